// tandem/bench: the measurement machinery behind `tandem bench`, for scripts that measure
// tandem the same way: the sweep and its results schema, the report, metrics and traces, the
// stages timed alone, the compute/copy ratio calibration, the synthetic kernel.
export {
  runSweep,
  type BenchWorkload,
  type BenchInstance,
  type SweepConfig,
  type SweepOutput,
} from './profile/sweep.js';
export {
  environment,
  singleRunResults,
  timelineRecord,
  withoutTimeline,
  writeResults,
  RESULTS_SCHEMA,
} from './profile/results.js';
export type { Results, Cell, Environment, PeerCell, PeerStatus, TimelineRecord } from './profile/results.js';
export { renderReport, writeReport } from './profile/report.js';
export {
  computeMetrics,
  computeGaps,
  traceCostPerChunkMs,
  efficiencyAgainstAlone,
  STRICT_UTILIZATION_METHOD,
} from './profile/metrics.js';
export type {
  RunMetrics,
  IdleGap,
  GapCause,
  KernelUtilization,
  MetricsOptions,
  EngineStage,
} from './profile/metrics.js';
export { UtilizationSampler, nvmlUtilizationReader, summarizeUtilization } from './profile/nvml-sampler.js';
export type { UtilizationSample, UtilizationSummary, UtilizationReader } from './profile/nvml-sampler.js';
export { buildTrace, writeTrace, writeTraceRuns } from './profile/trace.js';
export type { TraceDocument, TraceEvent, TraceRun } from './profile/trace.js';
export { timeAlone, type AloneOptions, type AloneStage } from './profile/alone.js';
export {
  calibrateCost,
  type Calibration,
  type CalibrationPoint,
  type CalibrationSearch,
  type CalibrateOptions,
  type ProbeTiming,
  type Tunable,
} from './profile/calibrate.js';
export { syntheticKernel, syntheticLauncher, syntheticReference, SYNTHETIC_SOURCE } from './workloads/synthetic.js';
export { runSketch, type SketchOptions } from './check/sketch.js';
export { parseFrameSize } from './formats/frame-format.js';
export { median } from './util/median.js';
export { jobKey, type JobsCell } from './profile/jobs.js';
