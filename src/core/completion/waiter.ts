// How Event.completion() waits: three strategies behind one interface, chosen per device
// (`open(ordinal, { eventWait })`) or by TANDEM_EVENT_WAIT, so bench/event-latency.ts can
// measure each on the same GPU.
import { UsageError } from '../../cuda/errors.js';
import type { PendingWait } from './sweep.js';

export type EventWaitStrategy = 'worker' | 'poll' | 'async';

export const EVENT_WAIT_STRATEGIES: readonly EventWaitStrategy[] = ['worker', 'poll', 'async'];

export interface EventWaiter {
  readonly strategy: EventWaitStrategy;
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

/**
 * The default: 'worker'. bench/event-latency.ts on H100 hosts (driver 580, 16 cores), event
 * completion → resolved promise against a thread spinning on the same event, 20 µs / 200 µs /
 * 2 ms kernels; four runs (600, 600, 1200, 600 waits), p50 / p99 in µs:
 *   worker  30 / 313,   38 / 134,   62 / 1583,  37 / 192   fs read with 8 events pending 0.6–0.9 ms; CPU 25–46 ms per 300 ms wait
 *   poll     6 / 1090,   1 / 598,    7 / 959,    9 / 1165  fs read 0.6–1.0 ms; CPU 13–17 ms
 *   async   48 / 130,   57 / 1668,  60 / 1711,  51 / 1224  fs read 94–96 ms; CPU 300 ms (cuEventSynchronize spins a pool thread)
 * 'async' holds one libuv thread per pending event: with 8 in flight an fs read waited 95 ms,
 * and that read is exactly the sink stage's I/O. 'poll' has the best median but runs on the
 * event loop and its tail is its 1 ms back-off. The worker costs a message hop (~30–60 µs) and
 * keeps both the loop and the pool free. (Those 'worker' figures are of the worker thread alone.)
 * Since then 'worker' first spins on the event loop, like 'poll' without the back-off, for as
 * long as completions keep coming (worker-waiter.ts): a pipeline whose host waits on chunk
 * n − depth to enqueue chunk n pays the worker's hop and its millisecond tail at every chunk,
 * which left the copy engine idle at small chunks; an idle wait still goes to the thread.
 * bench/event-latency.ts with the spin phase (H100 host, same method, 600 waits):
 *   worker   p50 3.2 / p90 13.3 / p99 47.2 / max 321.5 µs; fs read with 8 pending 0.66 ms;
 *            CPU 47 ms per 300 ms wait (the spin phase's SPIN_MS, then the thread)
 */
export const DEFAULT_EVENT_WAIT: EventWaitStrategy = 'worker';

export function strategyFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): EventWaitStrategy | undefined {
  const v = env.TANDEM_EVENT_WAIT;
  if (v === undefined || v === '') return undefined;
  if ((EVENT_WAIT_STRATEGIES as readonly string[]).includes(v)) return v as EventWaitStrategy;
  throw new UsageError(`TANDEM_EVENT_WAIT='${v}' is not a strategy; use one of ${EVENT_WAIT_STRATEGIES.join(', ')}`);
}
