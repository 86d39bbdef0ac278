// Strategy 'async': cuEventSynchronize through koffi's `.async`, i.e. on libuv's thread pool.
// Simple, but each pending event holds one of the pool's 4 threads for as long as the GPU work
// takes, so a pipeline with a few events in flight starves fs writes (which share the pool).
// Kept for comparison in bench/event-latency.ts.
import type { Driver } from '../../cuda/driver.js';
import { cudaError } from '../../cuda/driver.js';
import type { PendingWait } from './sweep.js';
import type { EventWaiter } from './waiter.js';

export class AsyncWaiter implements EventWaiter {
  readonly strategy = 'async' as const;
  readonly #rejects = new Set<(e: Error) => void>();
  #closed: Error | null = null;

  constructor(private readonly driver: Driver) {}

  get pending(): number {
    return this.#rejects.size;
  }

  wait(event: bigint): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise<void>((resolve, reject) => {
      this.#rejects.add(reject);
      this.driver.cuEventSynchronize.async(event, (err: Error | null, rc: number) => {
        if (!this.#rejects.delete(reject)) return; // already rejected by close()
        if (err) reject(err);
        else if (rc !== 0) reject(cudaError(rc, 'cuEventSynchronize'));
        else resolve();
      });
    });
  }

  watch(w: PendingWait): void {
    this.wait(w.event).then(
      () => w.resolve(),
      (err: Error) => w.reject(err),
    );
  }

  close(reason: Error): void {
    if (this.#closed) return;
    this.#closed = reason;
    for (const reject of this.#rejects) reject(reason);
    this.#rejects.clear();
  }
}
