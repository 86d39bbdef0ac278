// The host-stage sinks.
export type { Sink, SinkResult } from './types.js';
export { SinkError, describeFsError, checkWritableDir } from './errors.js';
export { openRawSink, type RawSinkOptions } from './raw.js';
export { openPngSink, pngFileName, type PngSinkOptions } from './png.js';
export { encodePng, decodePng, crc32, type PngImage } from './png-encode.js';
export {
  openFfmpegSink,
  findFfmpeg,
  findFfprobe,
  probeFrames,
  ffmpegArgs,
  FfmpegNotFoundError,
  type FfmpegSink,
  type FfmpegSinkOptions,
} from './ffmpeg.js';
export { callbackSink, iteratorSink, type FrameBatch, type IteratorSink } from './callback.js';
export { readableSink, type ReadableSink } from './readable.js';
export { chunkFrames, type ChunkFrames } from './chunk-frames.js';
