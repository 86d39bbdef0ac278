// The one error a failed run rejects with: which stage, which chunk, the cause, what to do.
import { CudaError } from '../cuda/errors.js';
import type { StageName } from './types.js';

const ADVICE: Record<StageName, string> = {
  setup:
    'allocating the ring (device and pinned buffers, streams, events) failed before any chunk ran; lower depth, deviceSlots or the chunk size, or free device memory',
  input: 'the input iterable threw; fix the code that produces the inputs',
  upload: 'filling or uploading the input failed; check inputBytes against the input items',
  compute: 'the compute() callback threw or a launch failed; fix the launch (grid, block, arguments) or the callback',
  copy: 'the device-to-host copy (or the work before it) failed; the cause names the CUDA error',
  sink: 'the host stage (sink) failed; the chunks after it were not delivered',
};

export class PipelineError extends Error {
  override readonly name = 'PipelineError';
  constructor(
    readonly stage: StageName,
    /** The chunk index the stage was working on (0 for 'setup': the run had not started one). */
    readonly chunk: number,
    override readonly cause: unknown,
    label = 'pipeline',
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    const sticky = cause instanceof CudaError && cause.sticky;
    super(
      (stage === 'setup'
        ? `${label}: setting up the run failed: ${why}. ${ADVICE[stage]}`
        : `${label}: stage '${stage}' failed at chunk ${chunk}: ${why}. ${ADVICE[stage]}`) +
        (sticky
          ? '; the CUDA context is lost: close the device and open it again before the next run'
          : '; the run stopped and released its buffers, so the next run can start'),
    );
  }
}

/** The error for a run stopped by its signal: the signal's reason when it is an Error. */
export function abortReason(signal: AbortSignal): unknown {
  if (signal.reason !== undefined) return signal.reason;
  const e = new Error('the pipeline run was aborted');
  e.name = 'AbortError';
  return e;
}
