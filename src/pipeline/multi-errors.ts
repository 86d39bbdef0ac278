// A multi-device run fails with a PipelineError that also names the device: stage, GLOBAL chunk
// index, device ordinal (and its position in the list, as one GPU may appear twice).
import { PipelineError } from './errors.js';
import type { StageName } from './types.js';

/** A multi-device run failed: a PipelineError whose chunk is the global index, plus the device. */
export class MultiPipelineError extends PipelineError {
  constructor(
    stage: StageName,
    chunk: number,
    cause: unknown,
    label: string,
    /** CUDA ordinal of the device the failing chunk was on. */
    readonly device: number,
    /** Position of that device in createMultiPipeline's list. */
    readonly deviceIndex: number,
  ) {
    super(stage, chunk, cause, `${label} on device ${device} (pipeline ${deviceIndex})`);
  }
}
