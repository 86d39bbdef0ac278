// Frame workloads and their registry.
export type { FrameWorkload, FrameWorkloadFactory, FrameWorkloadInstance, FrameWorkloadOptions } from './types.js';
export {
  type FrameFormat,
  type FrameRange,
  type PixelFormat,
  PIXEL_FORMATS,
  frameBytes,
  chunkBytes,
  parseSize,
  validateFrameFormat,
  frameRanges,
  frameRangeOf,
} from '../formats/frame-format.js';
export { fractal, renderFractalFrame, FRACTAL_SOURCE } from './fractal.js';
export { decoder, renderDecoderFrames, decoderPlan, DECODER_SOURCE } from './decoder.js';
export { FRAME_WORKLOADS, workloadNames, createFrameWorkload } from './registry.js';
export { i420ToRgb } from '../formats/color.js';
