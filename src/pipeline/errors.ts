// The one error a failed run rejects with: which stage, which chunk, the cause, what to do.
import { CudaError } from '../cuda/errors.js';
import { TandemError } from '../util/errors.js';
import type { StageName } from './types.js';

const ADVICE: Record<StageName, string> = {
  setup:
    'allocating the ring (device and pinned buffers, streams, events) failed before any chunk ran; ' +
    'lower depth, deviceSlots or the chunk size, or free device memory',
  input: 'the input iterable threw; fix the code that produces the inputs',
  upload: 'filling or uploading the input failed; check inputBytes against the input items',
  compute: 'the compute() callback threw or a launch failed; fix the launch (grid, block, arguments) or the callback',
  copy: 'the device-to-host copy (or the work before it) failed; the cause names the CUDA error',
  sink: 'the host stage (sink) failed; the chunks after it were not delivered',
};

/** A run failed (code 'STAGE_FAILED'): the stage, the chunk, the cause, and its `cudaName` for a CudaError. */
export class PipelineError extends TandemError {
  override readonly name: string = 'PipelineError';
  /** The CUDA name of the cause (e.g. CUDA_ERROR_ILLEGAL_ADDRESS) when the cause is a CudaError. */
  readonly cudaName: string | undefined;
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
      'STAGE_FAILED',
      (stage === 'setup'
        ? `${label}: setting up the run failed: ${why}. ${ADVICE[stage]}`
        : `${label}: stage '${stage}' failed at chunk ${chunk}: ${why}. ${ADVICE[stage]}`) +
        (sticky
          ? '; the CUDA context is lost: close the device and open it again before the next run'
          : '; the run stopped and released its buffers, so the next run can start'),
    );
    this.cudaName = cause instanceof CudaError ? cause.cudaName : undefined;
  }
}
