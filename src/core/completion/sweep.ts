// One pass of cuEventQuery over the waits pending on the event loop: the worker waiter's
// spinning phase.
import { cudaError } from '../../cuda/driver.js';
import { CUDA_ERROR_NOT_READY, CUDA_SUCCESS } from '../../cuda/constants.js';

export interface PendingWait {
  readonly event: bigint;
  resolve(): void;
  reject(err: Error): void;
}

// Waits found settled, held between compaction and settling (reused: no array per sweep).
const ready: PendingWait[] = [];
const readyCodes: number[] = [];

/**
 * Settles every wait whose event finished (or faulted) and removes it from `pending`, in place
 * (a sweep runs every event-loop turn while a pipeline runs: no array per turn); returns how many
 * settled. The list is compacted before anything is settled: a callback wait (watch()) runs
 * its callback right here, and that callback may start new waits on the same list.
 */
export function sweepEvents<P extends PendingWait>(query: (event: bigint) => unknown, pending: P[]): number {
  const from = ready.length;
  let keep = 0;
  for (let k = 0; k < pending.length; k++) {
    const p = pending[k]!;
    const rc = query(p.event) as number;
    if (rc === CUDA_ERROR_NOT_READY) pending[keep++] = p;
    else {
      ready.push(p);
      readyCodes.push(rc);
    }
  }
  pending.length = keep;
  const to = ready.length;
  for (let k = from; k < to; k++) {
    const p = ready[k]!;
    const rc = readyCodes[k]!;
    try {
      if (rc === CUDA_SUCCESS) p.resolve();
      else p.reject(cudaError(rc, 'cuEventQuery'));
    } catch (err) {
      // A callback that throws must not strand the waits after it: report it on its own.
      queueMicrotask(() => {
        throw err;
      });
    }
  }
  ready.length = from;
  readyCodes.length = from;
  return to - from;
}

/** A watch() on a closed waiter: fails it with the waiter's reason, from a later microtask. */
export function rejectLater(w: PendingWait, reason: Error): void {
  queueMicrotask(() => w.reject(reason));
}
