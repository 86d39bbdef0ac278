// Strategy 'poll': cuEventQuery from the event loop itself. setImmediate rounds while work was
// completing recently (each round is one cuEventQuery per pending event, well under a µs each),
// then 1 ms timers so an idle wait for a long kernel does not spin the loop. Costs the loop a
// little every round and a millisecond of latency after the back-off; kept for comparison.
import type { Driver } from '../../cuda/driver.js';
import { rejectLater, sweepEvents, type PendingWait } from './sweep.js';
import type { EventWaiter } from './waiter.js';

type Pending = PendingWait;

/** Empty setImmediate rounds before backing off to timers (~1 ms of spinning on an idle loop). */
const SPIN_ROUNDS = 512;
const BACKOFF_MS = 1;

export class PollWaiter implements EventWaiter {
  readonly strategy = 'poll' as const;
  #entries: Pending[] = [];
  #scheduled = false;
  #idleRounds = 0;
  #closed: Error | null = null;

  constructor(private readonly driver: Driver) {}

  get pending(): number {
    return this.#entries.length;
  }

  wait(event: bigint): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise<void>((resolve, reject) => {
      this.#entries.push({ event, resolve, reject });
      this.#idleRounds = 0;
      this.#schedule();
    });
  }

  watch(w: PendingWait): void {
    if (this.#closed) return rejectLater(w, this.#closed);
    this.#entries.push(w);
    this.#idleRounds = 0;
    this.#schedule();
  }

  close(reason: Error): void {
    if (this.#closed) return;
    this.#closed = reason;
    const entries = this.#entries;
    this.#entries = [];
    for (const e of entries) e.reject(reason);
  }

  #schedule(): void {
    if (this.#scheduled || this.#entries.length === 0) return;
    this.#scheduled = true;
    if (this.#idleRounds < SPIN_ROUNDS) setImmediate(this.#tick);
    else setTimeout(this.#tick, BACKOFF_MS);
  }

  readonly #tick = (): void => {
    this.#scheduled = false;
    const done = sweepEvents(this.driver.cuEventQuery, this.#entries);
    this.#idleRounds = done > 0 ? 0 : this.#idleRounds + 1;
    this.#schedule();
  };
}
