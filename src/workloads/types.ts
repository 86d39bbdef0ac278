// Frame workloads follow the Workload shape of synthetic.ts (name, outputBytes, setup(device) →
// { compute }, close()) and add the frame layout that sinks need. Declared structurally here so
// a FrameWorkload is a Workload<FrameRange> wherever one is expected.
import type { Device } from '../pipeline/device.js';
import type { ComputeChunk } from '../pipeline/types.js';
import type { FrameFormat, FrameRange, PixelFormat } from '../formats/frame-format.js';

/** What a frame workload renders: the frame format and a cost multiplier. */
export interface FrameWorkloadOptions {
  width: number;
  height: number;
  pixelFormat: PixelFormat;
  framesPerChunk: number;
  /**
   * Per-frame cost multiplier, 1 by default: the fractal's iteration count, the decoder's
   * channel width, the synthetic kernel's hash rounds. Larger → more GPU time per frame.
   */
  cost?: number;
  /** Seed for generated weights / latents. */
  seed?: number;
}

/** A frame workload set up on one device: compute() for the pipeline, and a CPU twin where there is one. */
export interface FrameWorkloadInstance {
  /** PipelineOptions.compute: enqueues chunk.item's frames on chunk.stream; never waits on the GPU. */
  compute(chunk: ComputeChunk<FrameRange>): void;
  /** Host-computed bytes of frames [first, first + frames), where the workload has a JS twin. */
  referenceFrames?(first: number, frames: number): Uint8Array;
}

/** A frame workload: its format and chunk size, set up per device; close() frees what setup() made. */
export interface FrameWorkload {
  readonly name: string;
  /** Bytes of one full chunk: PipelineOptions.outputBytes. */
  readonly outputBytes: number;
  readonly format: FrameFormat;
  /** One line about what a frame costs, for summaries. */
  readonly describe: string;
  /** Compiles for `device` (defining the JS twins on a fake device) and allocates scratch. */
  setup(device: Device): FrameWorkloadInstance;
  /** Releases what setup() made. Idempotent. */
  close(): void;
}

/** Makes a frame workload from options; the registry lists one per name. */
export interface FrameWorkloadFactory {
  readonly name: string;
  readonly summary: string;
  /** Validates the options (UsageError saying what to change); nothing touches a device yet. */
  create(options: FrameWorkloadOptions): FrameWorkload;
}
