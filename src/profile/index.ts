// The profile layer: metrics of a run, the NVML sampler, the Chrome/Perfetto trace, the results
// JSON and the self-contained HTML report, and the sweep behind `tandem bench`.
export {
  computeMetrics,
  computeGaps,
  traceCostPerChunkMs,
  efficiencyAgainstAlone,
  unionMs,
  STRICT_UTILIZATION_METHOD,
} from './metrics.js';
export type { RunMetrics, IdleGap, GapCause, KernelUtilization, MetricsOptions, EngineStage } from './metrics.js';
export { UtilizationSampler, nvmlUtilizationReader, summarizeUtilization } from './nvml-sampler.js';
export type { UtilizationSample, UtilizationSummary, UtilizationReader } from './nvml-sampler.js';
export { buildTrace, writeTrace, writeTraceRuns } from './trace.js';
export type { TraceDocument, TraceEvent, TraceRun } from './trace.js';
export {
  environment,
  singleRunResults,
  timelineRecord,
  withoutTimeline,
  writeResults,
  RESULTS_SCHEMA,
} from './results.js';
export type { Results, Cell, Environment, PeerCell, PeerStatus, TimelineRecord } from './results.js';
export { renderReport, writeReport } from './report.js';
export { computeAloneMs, copyAloneMs } from './alone.js';
export { gatedGpuMs } from './hold.js';
export type { GatedTiming } from './hold.js';
export { calibrateCost } from './calibrate.js';
export type { Calibration as CostCalibration, Tunable } from './calibrate.js';
export { runSweep } from './sweep.js';
export type { BenchWorkload, BenchInstance, SweepConfig, SweepOutput } from './sweep.js';
