// A CUDA event: timing off by default (a timing record costs GPU time), record on a stream,
// isDone (cuEventQuery, NOT_READY → false) and completion() through the device's waiter.
import { check, cudaError } from '../cuda/driver.js';
import { CUDA_ERROR_NOT_READY, CUDA_SUCCESS, CU_EVENT_DEFAULT, CU_EVENT_DISABLE_TIMING } from '../cuda/constants.js';
import { UsageError } from '../util/errors.js';
import { awaitEvent } from './completion/index.js';
import { cudaHandle } from './handles.js';
import type { DeviceContext } from './context.js';
import { InFlight } from './deferred-destroy.js';
import { CudaResource } from './resource.js';
import type { Event, EventOptions, Stream } from './types.js';

let eventCount = 0;

export class CudaEvent extends CudaResource implements Event {
  readonly timing: boolean;
  readonly #handle: bigint;
  /** How error messages name this event (made once: record() runs per chunk). */
  readonly #what: string;
  readonly #inFlight = new InFlight();
  /** The reusable record whenComplete() hands the waiter. */
  #watch: EventWatch | null = null;

  constructor(owner: DeviceContext, options: EventOptions = {}) {
    super(owner, 'Event', options.label ?? `event${++eventCount}`);
    this.#what = `event '${this.label}'`;
    this.timing = options.timing ?? false;
    owner.makeCurrent();
    const out: (bigint | null)[] = [null];
    check(
      owner.driver.cuEventCreate(out, this.timing ? CU_EVENT_DEFAULT : CU_EVENT_DISABLE_TIMING),
      'cuEventCreate',
      this.label,
    );
    this.#handle = out[0]!;
    this.own(this.#handle, owner.driver.cuEventDestroy_v2);
  }

  /** The CUevent; throws after close(). */
  get handle(): bigint {
    this.assertOpen();
    return this.#handle;
  }

  record(stream: Stream): void {
    const h = this.handle;
    const s = cudaHandle(stream, 'stream', this.owner.device, this.#what, '.record');
    const rc = this.owner.driver.cuEventRecord(h, s) as number;
    if (rc !== 0) check(rc, 'cuEventRecord', `event '${this.label}' on stream '${stream.label}'`);
  }

  isDone(): boolean {
    const rc = this.owner.driver.cuEventQuery(this.handle) as number;
    if (rc === CUDA_ERROR_NOT_READY) return false;
    check(rc, 'cuEventQuery', this.label);
    return true;
  }

  whenComplete(onDone: () => void, onError: (err: unknown) => void): void {
    if (this.closed) {
      onError(this.closedError());
      return;
    }
    const rc = this.owner.driver.cuEventQuery(this.#handle) as number;
    if (rc === CUDA_SUCCESS) {
      onDone();
      return;
    }
    if (rc !== CUDA_ERROR_NOT_READY) {
      onError(cudaError(rc, 'cuEventQuery'));
      return;
    }
    const w = (this.#watch ??= new EventWatch(this.#handle, this.#inFlight, this));
    if (w.busy) {
      this.completion().then(onDone, onError);
      return;
    }
    w.arm(onDone, onError);
    this.#inFlight.enter();
    this.owner.waiter.watch(w);
  }

  completion(): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    return this.#inFlight.track(awaitEvent(this.owner.driver, this.owner.waiter, this.#handle), this);
  }

  elapsedMs(start: Event): number {
    const end = this.handle;
    if (!this.timing || !start.timing) {
      throw new UsageError(
        `elapsedMs needs two timing events; create ${!this.timing ? `'${this.label}'` : `'${start.label}'`} with device.createEvent({ timing: true })`,
      );
    }
    const s = cudaHandle(start, 'event', this.owner.device, this.#what, '.elapsedMs');
    const ms = [0];
    const rc = this.owner.driver.cuEventElapsedTime(ms, s, end) as number;
    if (rc === CUDA_ERROR_NOT_READY) {
      throw new UsageError(
        `events '${start.label}' → '${this.label}' have not both completed; await completion() before elapsedMs()`,
      );
    }
    check(rc, 'cuEventElapsedTime', `'${start.label}' → '${this.label}'; both must have been recorded`);
    return ms[0]!;
  }

  /** Destroys the handle once no completion wait still reads it. */
  protected destroy(): void {
    const h = this.#handle;
    this.#inFlight.whenDrained(() => {
      // After device.close() the context, and every handle in it, is already gone.
      if (this.owner.device.closed) return;
      this.owner.makeCurrent();
      this.owner.driver.cuEventDestroy_v2(h);
    });
  }
}

const noop = (): void => {};

/**
 * One whenComplete() wait, reused for every wait on its event: the waiter calls resolve() or
 * reject() once; the record disarms itself, lets the event's handle go (InFlight) and calls
 * back. It holds the event itself, so a pending wait keeps the event from being finalized.
 */
class EventWatch {
  busy = false;
  #onDone: () => void = noop;
  #onError: (err: unknown) => void = noop;
  constructor(
    readonly event: bigint,
    private readonly inFlight: InFlight,
    private readonly owner: object,
  ) {}
  arm(onDone: () => void, onError: (err: unknown) => void): void {
    this.busy = true;
    this.#onDone = onDone;
    this.#onError = onError;
  }
  readonly resolve = (): void => {
    const f = this.#onDone;
    this.#disarm();
    f();
  };
  readonly reject = (err: Error): void => {
    const f = this.#onError;
    this.#disarm();
    f(err);
  };
  #disarm(): void {
    this.busy = false;
    this.#onDone = noop;
    this.#onError = noop;
    void this.owner;
    this.inFlight.leave();
  }
}
