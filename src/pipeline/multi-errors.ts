// A multi-device run fails with a PipelineError that also names the device: stage, GLOBAL chunk
// index, device ordinal (and its position in the list, as one GPU may appear twice).
import { PipelineError } from './errors.js';
import type { StageName } from './types.js';

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

/** The error for a run stopped by its signal: the signal's reason when it has one. */
export function abortReasonOf(signal: AbortSignal): unknown {
  if (signal.reason !== undefined) return signal.reason;
  const e = new Error('the multi-device pipeline run was aborted');
  e.name = 'AbortError';
  return e;
}
