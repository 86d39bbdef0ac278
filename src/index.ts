// tandem: keep an NVIDIA GPU computing while every chunk of its output streams to the host.
// The public API, name by name. Tests without a GPU: `tandem/testing` (the fake device); the
// benchmark and report machinery behind `tandem bench`: `tandem/bench`. eslint.config.js lists
// the layers these names come from.

// Devices and the object model
export { listDevices, driverAvailable, type DriverAvailability } from './core/open.js';
export { open, CudaDevice, type Device } from './pipeline/device.js';
export type {
  ArgType,
  CompileOptions,
  CopyOptions,
  DeviceBuffer,
  DeviceCore,
  DeviceProperties,
  Event,
  EventOptions,
  HostOrDevice,
  Kernel,
  KernelArg,
  KernelArgOf,
  KernelArgsOf,
  KernelSignatures,
  Dim,
  LaunchOptions,
  MemoryInfo,
  PinnedBuffer,
  Program,
  Resource,
  Stream,
  StreamOptions,
  TypedArrayConstructor,
} from './core/types.js';
export type { DevicePool, PoolKind, PoolKindStats, PoolLimits, PoolStats, ReserveOptions } from './core/pool.js';

// Errors: every one is a TandemError with a string `code`
export { TandemError, UsageError, AbortError } from './util/errors.js';
export { CudaError, NvrtcError, LibraryNotFoundError } from './cuda/errors.js';
export { PipelineError } from './pipeline/errors.js';
export { MultiPipelineError } from './pipeline/multi-errors.js';
export { HazardError } from './check/errors.js';
export { SinkError } from './sinks/errors.js';
export { FfmpegNotFoundError } from './sinks/ffmpeg.js';

// The pipeline
export { Pipeline, createPipeline } from './pipeline/pipeline.js';
export { MAX_DEPTH } from './pipeline/auto-depth.js';
export type {
  ChunkTiming,
  ComputeChunk,
  OutputChunk,
  PipelineInput,
  PipelineMode,
  PipelineOptions,
  PipelineRunOptions,
  PipelineStats,
  RunOptions,
  StageName,
  StageStats,
  UploadSource,
} from './pipeline/types.js';
export { MultiPipeline, createMultiPipeline, openMultiPipeline } from './pipeline/multi.js';
export { openDevices, closeDevices, parseDevicesSpec, type DevicesSpec } from './pipeline/multi.js';
export type {
  DeviceShare,
  MultiBottleneck,
  MultiComputeChunk,
  MultiOutputChunk,
  MultiPipelineOptions,
  MultiPipelineStats,
} from './pipeline/multi.js';

// The hazard checker
export { checked, type CheckedDevice, type CheckOptions } from './check/checked.js';

// Frames and host stages (sinks)
export { PIXEL_FORMATS, frameBytes, chunkBytes, frameRanges } from './formats/frame-format.js';
export type { FrameFormat, FrameRange, PixelFormat } from './formats/frame-format.js';
export type { Sink, SinkResult } from './sinks/types.js';
export { openRawSink, type RawSinkOptions } from './sinks/raw.js';
export { openPngSink, type PngSinkOptions } from './sinks/png.js';
export { openFfmpegSink, findFfmpeg, type FfmpegSink, type FfmpegSinkOptions } from './sinks/ffmpeg.js';
export { callbackSink, iteratorSink, type FrameBatch, type IteratorSink } from './sinks/callback.js';
export { readableSink, type ReadableSink } from './sinks/readable.js';

// Workloads, and rendering one to a sink
export { synthetic, type SyntheticOptions, type Workload, type WorkloadInstance } from './workloads/synthetic.js';
export { createFrameWorkload, workloadNames } from './workloads/registry.js';
export type {
  FrameWorkload,
  FrameWorkloadFactory,
  FrameWorkloadInstance,
  FrameWorkloadOptions,
} from './workloads/types.js';
export { runRender, type RenderOptions, type RenderOutcome, type RenderProgress } from './render/render.js';
