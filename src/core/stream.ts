// A CUDA stream (cuStreamCreateWithPriority): non-blocking by default, priority clamped to the
// context's range. synchronize() awaits an internal event, so it never blocks the event loop.
import { check } from '../cuda/driver.js';
import { CU_EVENT_DISABLE_TIMING, CU_STREAM_DEFAULT, CU_STREAM_NON_BLOCKING } from '../cuda/constants.js';
import { UsageError } from '../util/errors.js';
import { cudaHandle } from './handles.js';
import { awaitEvent } from './completion/index.js';
import { InFlight } from './deferred-destroy.js';
import type { DeviceContext } from './context.js';
import { unwatch, watch } from './finalizer.js';
import { CudaResource } from './resource.js';
import type { Event, Stream, StreamOptions } from './types.js';

let streamCount = 0;

export class CudaStream extends CudaResource implements Stream {
  /** How error messages name this stream (made once: waitEvent() runs per chunk). */
  readonly #what: string;
  readonly priority: number;
  readonly nonBlocking: boolean;
  readonly #handle: bigint;
  /** Recorded by synchronize(); created on first use. */
  #syncEvent: bigint | null = null;
  readonly #inFlight = new InFlight();
  readonly #syncToken = {};

  constructor(owner: DeviceContext, options: StreamOptions = {}, range: { least: number; greatest: number }) {
    super(owner, 'Stream', options.label ?? `stream${++streamCount}`);
    this.#what = `stream '${this.label}'`;
    this.nonBlocking = options.nonBlocking ?? true;
    const asked = options.priority ?? 0;
    if (!Number.isInteger(asked)) throw new UsageError(`stream priority must be an integer; got ${asked}`);
    // CUDA: numerically lower is higher priority; greatest <= least (e.g. -5..0).
    this.priority = Math.min(range.least, Math.max(range.greatest, asked));
    owner.makeCurrent();
    const out: (bigint | null)[] = [null];
    check(
      owner.driver.cuStreamCreateWithPriority(
        out,
        this.nonBlocking ? CU_STREAM_NON_BLOCKING : CU_STREAM_DEFAULT,
        this.priority,
      ),
      'cuStreamCreateWithPriority',
      this.label,
    );
    this.#handle = out[0]!;
    this.own(this.#handle, owner.driver.cuStreamDestroy_v2);
  }

  /** The CUstream, for the driver calls; throws after close(). */
  get handle(): bigint {
    this.assertOpen();
    return this.#handle;
  }

  waitEvent(event: Event): void {
    const h = this.handle;
    const ev = cudaHandle(event, 'event', this.owner.device, this.#what, '.waitEvent');
    const rc = this.owner.driver.cuStreamWaitEvent(h, ev, 0) as number;
    if (rc !== 0) check(rc, 'cuStreamWaitEvent', `stream '${this.label}' waits on event '${event.label}'`);
  }

  /** True when all work submitted so far has completed (cuStreamQuery). */
  isIdle(): boolean {
    const rc = this.owner.driver.cuStreamQuery(this.handle) as number;
    if (rc === 600) return false;
    check(rc, 'cuStreamQuery', this.label);
    return true;
  }

  synchronize(): Promise<void> {
    let h: bigint;
    try {
      h = this.handle;
      this.owner.makeCurrent();
      if (this.#syncEvent === null) {
        const out: (bigint | null)[] = [null];
        check(
          this.owner.driver.cuEventCreate(out, CU_EVENT_DISABLE_TIMING),
          'cuEventCreate',
          `for ${this.label}.synchronize()`,
        );
        this.#syncEvent = out[0]!;
        watch(
          this,
          { ctx: this.owner.ctx, handle: this.#syncEvent, release: this.owner.driver.cuEventDestroy_v2 },
          this.#syncToken,
        );
      }
      check(this.owner.driver.cuEventRecord(this.#syncEvent, h), 'cuEventRecord', `${this.label}.synchronize()`);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#inFlight.track(awaitEvent(this.owner.driver, this.owner.waiter, this.#syncEvent), this);
  }

  /** Destroys the stream now, and synchronize()'s event once no wait still reads it. */
  protected destroy(): void {
    unwatch(this.#syncToken);
    this.owner.makeCurrent();
    const ev = this.#syncEvent;
    if (ev !== null) {
      this.#inFlight.whenDrained(() => {
        if (!this.owner.device.closed) this.owner.driver.cuEventDestroy_v2(ev);
      });
    }
    check(this.owner.driver.cuStreamDestroy_v2(this.#handle), 'cuStreamDestroy_v2', this.label);
  }
}
