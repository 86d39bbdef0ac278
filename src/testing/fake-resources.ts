// Streams, events and memory of the fake device. Same contract as the real ones: idempotent
// close(), [Symbol.dispose], UsageError on use after close(), CudaError once the device faulted.
import type {
  DeviceBuffer,
  Event,
  EventOptions,
  PinnedBuffer,
  Stream,
  StreamOptions,
  TypedArrayConstructor,
} from '../core/types.js';
import type { Device } from '../pipeline/device.js';
import { CudaError } from '../cuda/errors.js';
import { formatBytes } from '../util/format.js';
import { UsageError } from '../util/errors.js';
import type { FakeClock, FakeOp } from './fake-clock.js';

/** What the resources need from their device: the clock and the live-resource registry. */
export interface FakeHost {
  readonly device: Device;
  readonly clock: FakeClock;
  /** Throws if the device is closed or faulted. */
  checkUsable(what: string): void;
  /** The error an injected 'completion' fault makes the next completion() reject with, if any. */
  failingCompletion(): Error | null;
  forget(resource: object): void;
}

abstract class FakeResource {
  closed = false;
  constructor(
    protected readonly host: FakeHost,
    readonly label: string,
    private readonly kindName: string,
  ) {}
  get device(): Device {
    return this.host.device;
  }
  protected use(what: string): void {
    if (this.closed)
      throw new UsageError(`${this.kindName} '${this.label}' used after close() (${what}); make a new one`);
    this.host.checkUsable(`${this.kindName}.${what}`);
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.forget(this);
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

export class FakeStream extends FakeResource implements Stream {
  readonly priority: number;
  readonly nonBlocking: boolean;
  /** The last op enqueued: the next one waits for it (streams are in-order queues). */
  tail: FakeOp | null = null;

  constructor(host: FakeHost, options: StreamOptions = {}) {
    super(host, options.label ?? 'stream', 'stream');
    this.priority = options.priority ?? 0;
    this.nonBlocking = options.nonBlocking ?? true;
  }

  /** Enqueues an op after everything already on this stream (and after `extraDeps`). */
  enqueue(
    what: string,
    engine: number,
    cost: number,
    effects: { onStart?: () => void; onFinish?: () => void },
    extraDeps: FakeOp[] = [],
  ): FakeOp {
    this.use(what);
    const deps = this.tail ? [this.tail, ...extraDeps] : extraDeps;
    const op = this.host.clock.submit({ label: `${this.label}:${what}`, deps, engine, cost, ...effects });
    this.tail = op;
    return op;
  }

  waitEvent(event: Event): void {
    this.use('waitEvent');
    if (!(event instanceof FakeEvent))
      throw new UsageError(`stream '${this.label}'.waitEvent: the event belongs to another device`);
    event.checkOpen('waited on');
    const rec = event.lastRecord;
    // Waiting on a never-recorded event is a no-op, as in CUDA.
    if (rec) this.enqueue('waitEvent', -1, 0, {}, [rec]);
  }

  synchronize(): Promise<void> {
    try {
      this.use('synchronize');
    } catch (err) {
      return Promise.reject(err);
    }
    return this.tail ? this.host.clock.whenDone([this.tail]) : Promise.resolve();
  }
}

export class FakeEvent extends FakeResource implements Event {
  readonly timing: boolean;
  lastRecord: FakeOp | null = null;

  constructor(host: FakeHost, options: EventOptions = {}) {
    super(host, options.label ?? 'event', 'event');
    this.timing = options.timing ?? false;
  }

  checkOpen(what: string): void {
    if (this.closed) throw new UsageError(`event '${this.label}' ${what} after close(); make a new one`);
  }

  record(stream: Stream): void {
    this.use('record');
    if (!(stream instanceof FakeStream))
      throw new UsageError(`event '${this.label}'.record: the stream belongs to another device`);
    this.lastRecord = stream.enqueue(`record ${this.label}`, -1, 0, {});
  }

  isDone(): boolean {
    this.use('isDone');
    return this.lastRecord === null || this.host.clock.allDone([this.lastRecord]);
  }

  completion(): Promise<void> {
    try {
      this.use('completion');
    } catch (err) {
      return Promise.reject(err);
    }
    const injected = this.host.failingCompletion();
    if (injected) return Promise.reject(injected);
    // The record current now: a later record() does not move this promise's target.
    return this.lastRecord ? this.host.clock.whenDone([this.lastRecord]) : Promise.resolve();
  }

  elapsedMs(start: Event): number {
    this.use('elapsedMs');
    if (!(start instanceof FakeEvent))
      throw new UsageError(`event '${this.label}'.elapsedMs: the start event belongs to another device`);
    if (!this.timing || !start.timing) {
      throw new CudaError(
        400,
        'CUDA_ERROR_INVALID_HANDLE',
        'cuEventElapsedTime',
        'an event was created without timing',
        `make both events with { timing: true }`,
      );
    }
    const a = start.lastRecord;
    const b = this.lastRecord;
    if (!a || !b)
      throw new CudaError(
        400,
        'CUDA_ERROR_INVALID_HANDLE',
        'cuEventElapsedTime',
        'an event was never recorded',
        `record '${start.label}' and '${this.label}' first`,
      );
    if (a.state !== 'done' || b.state !== 'done') {
      throw new CudaError(
        600,
        'CUDA_ERROR_NOT_READY',
        'cuEventElapsedTime',
        'an event has not completed yet',
        'await completion() of both events first',
      );
    }
    return b.end - a.end;
  }
}

export class FakeDeviceBuffer extends FakeResource implements DeviceBuffer {
  readonly kind = 'device' as const;
  constructor(
    host: FakeHost,
    label: string,
    readonly ptr: bigint,
    /** The device memory. Ops keep a reference, so work in flight after close() writes harmlessly. */
    readonly mem: Uint8Array,
  ) {
    super(host, label, 'device buffer');
  }
  get byteLength(): number {
    return this.mem.byteLength;
  }
  /** The memory, for copies and kernels; throws if closed. */
  memory(what: string): Uint8Array {
    this.use(what);
    return this.mem;
  }
}

export class FakePinnedBuffer extends FakeResource implements PinnedBuffer {
  readonly kind = 'pinned' as const;
  readonly byteLength: number;
  constructor(
    host: FakeHost,
    label: string,
    private readonly mem: Uint8Array,
  ) {
    super(host, label, 'pinned buffer');
    this.byteLength = mem.byteLength;
  }
  get bytes(): Uint8Array {
    if (this.closed) throw new UsageError(`pinned buffer '${this.label}' read after close(); its memory is freed`);
    return this.mem;
  }
  memory(what: string): Uint8Array {
    this.use(what);
    return this.mem;
  }
  asBuffer(): Buffer {
    const b = this.bytes;
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  }
  view<T extends ArrayBufferView>(ctor: TypedArrayConstructor<T>, byteOffset = 0, length?: number): T {
    const b = this.bytes;
    const n = length ?? Math.floor((b.byteLength - byteOffset) / ctor.BYTES_PER_ELEMENT);
    if (
      byteOffset < 0 ||
      byteOffset % ctor.BYTES_PER_ELEMENT !== 0 ||
      byteOffset + n * ctor.BYTES_PER_ELEMENT > b.byteLength
    ) {
      throw new UsageError(
        `pinned buffer '${this.label}'.view: offset ${byteOffset} / length ${n} do not fit ${formatBytes(b.byteLength)} ` +
          `with ${ctor.BYTES_PER_ELEMENT}-byte elements`,
      );
    }
    return new ctor(b.buffer, b.byteOffset + byteOffset, n);
  }
}
