// The pipeline layer: ring, barriers, scheduling, drain, errors, statistics.
export { Pipeline, createPipeline } from './pipeline.js';
export { PipelineError } from './errors.js';
export { chooseDepth, MAX_DEPTH } from './auto-depth.js';
export type * from './types.js';
