// How Event.completion() waits: the interface the device's waiter (worker-waiter.ts) offers to
// events and streams. A wait must never block the event loop nor hold a libuv pool thread: the
// sink stage's file I/O runs on that pool.
import type { PendingWait } from './sweep.js';

export interface EventWaiter {
  /** Resolves when the event's last record completes; rejects with a CudaError on a fault. */
  wait(event: bigint): Promise<void>;
  /**
   * wait() without a promise: calls w.resolve() or w.reject(err) once, from a later turn. The
   * caller may reuse `w` once it was called back (a pipeline's hot path allocates nothing).
   */
  watch(w: PendingWait): void;
  /** Events being waited on now. */
  readonly pending: number;
  /** Rejects everything pending with `reason` and stops; idempotent. */
  close(reason: Error): void;
}
