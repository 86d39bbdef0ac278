// tandem: keep an NVIDIA GPU computing while every chunk of its output streams to the host.
// The layers, bottom up: raw bindings (cuda/) → object model (core/) → pipeline → sinks,
// workloads, profile, check → cli. Tests without a GPU: `tandem/testing` (the fake device).

// Object model
export { listDevices, driverAvailable, type DriverAvailability } from './core/open.js';
export { open, CudaDevice, type Device } from './pipeline/device.js';
export { normalizeLaunch, DEFAULT_LIMITS } from './core/launch-config.js';
export type * from './core/types.js';

// Errors
export { CudaError, NvrtcError, LibraryNotFoundError } from './cuda/errors.js';
export { TandemError, UsageError, AbortError } from './util/errors.js';
export { formatBytes } from './util/format.js';

// Pipeline
export { Pipeline, createPipeline, PipelineError, MAX_DEPTH } from './pipeline/index.js';
export type * from './pipeline/types.js';
export {
  MultiPipeline,
  createMultiPipeline,
  openMultiPipeline,
  openDevices,
  closeDevices,
  parseDevicesSpec,
  resolveDevicesSpec,
  MultiPipelineError,
  bottleneckOf,
} from './pipeline/multi.js';
export type {
  MultiPipelineOptions,
  MultiPipelineStats,
  MultiComputeChunk,
  MultiOutputChunk,
  DeviceShare,
  MultiBottleneck,
  DevicesSpec,
} from './pipeline/multi.js';

// Host stages, workloads, profiling, checking
export * from './sinks/index.js';
export * from './workloads/index.js';
export {
  synthetic,
  syntheticReference,
  calibrateSynthetic,
  SYNTHETIC_SOURCE,
  type Workload,
  type WorkloadInstance,
} from './workloads/synthetic.js';
export * from './profile/index.js';
export * from './check/index.js';
