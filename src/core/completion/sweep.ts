// One pass of cuEventQuery over the waits pending on the event loop, shared by the 'poll'
// strategy and the 'worker' strategy's spinning phase.
import { cudaError } from '../../cuda/driver.js';
import { CUDA_ERROR_NOT_READY, CUDA_SUCCESS } from '../../cuda/constants.js';

export interface PendingWait {
  readonly event: bigint;
  resolve(): void;
  reject(err: Error): void;
}

/** Settles every wait whose event finished (or faulted); returns the rest and how many settled. */
export function sweepEvents<P extends PendingWait>(query: (event: bigint) => unknown, pending: Iterable<P>): { still: P[]; done: number } {
  const still: P[] = [];
  let done = 0;
  for (const p of pending) {
    const rc = query(p.event) as number;
    if (rc === CUDA_ERROR_NOT_READY) still.push(p);
    else {
      done++;
      if (rc === CUDA_SUCCESS) p.resolve();
      else p.reject(cudaError(rc, 'cuEventQuery'));
    }
  }
  return { still, done };
}
