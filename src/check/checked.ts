// checked(device): the Device interface over any Device (fake or real) with a cross-stream
// hazard checker in between. Every stream and the host carry a vector clock; event records
// snapshot a stream's clock, waitEvent joins it into another stream, and awaited completions or
// synchronisations join it into the host. Enqueuing joins the host's clock into the stream (work
// enqueued after a host step runs after it). Each buffer access is checked against the buffer's
// shadow before it reaches the device; the shadow is updated only once the device accepted it.
import type {
  DeviceCore,
  CompileOptions,
  CopyOptions,
  DeviceBuffer,
  DeviceProperties,
  Event,
  EventOptions,
  HostOrDevice,
  Kernel,
  KernelArg,
  LaunchOptions,
  MemoryInfo,
  PinnedBuffer,
  Program,
  Stream,
  StreamOptions,
  TypedArrayConstructor,
  ArgType,
} from '../core/types.js';
import type { Device } from '../pipeline/device.js';
import { createPipeline, type Pipeline } from '../pipeline/pipeline.js';
import type { PipelineOptions } from '../pipeline/types.js';
import { DevicePool, type ReserveOptions } from '../core/pool.js';
import { HOST_ACTOR, joinInto, tick, type VectorClock } from './clock.js';
import type { HazardError, OpInfo, OpKind } from './errors.js';
import { BufferShadow } from './shadow.js';

/** What checked() does with a hazard it finds. */
export interface CheckOptions {
  /**
   * 'throw' (default): a racing access throws its HazardError before it reaches the device.
   * 'collect': it is recorded in `hazards` and the access goes ahead (to see every race of a run).
   * A function: called with each hazard, and the access goes ahead.
   */
  onHazard?: 'throw' | 'collect' | ((hazard: HazardError) => void);
}

/** A Device whose work goes through the hazard checker; `hazards` lists what it found. */
export interface CheckedDevice extends Device {
  /** The device underneath (for its own extras: a fake's fault injection, a real one's registerHost). */
  readonly inner: DeviceCore;
  /** Every hazard found so far, thrown or not. */
  readonly hazards: readonly HazardError[];
  clearHazards(): void;
}

/**
 * `device` behind the hazard checker: every copy, launch, event and host access is checked for
 * accesses to one buffer that nothing orders; a race is a HazardError (or collected, per
 * options.onHazard) before it reaches the device.
 */
export function checked(device: DeviceCore, options: CheckOptions = {}): CheckedDevice {
  return new CheckedDeviceImpl(device, options);
}

interface StreamState {
  readonly actor: number;
  readonly label: string;
  readonly clock: VectorClock;
}

interface Request {
  shadow: BufferShadow;
  access: 'read' | 'write';
  start: number;
  end: number;
}

// Wrapper → the object underneath. Anything not made by a checked device passes through as is.
const innerOf = new WeakMap<object, object>();
function unwrap<T>(x: T): T {
  return (typeof x === 'object' && x !== null ? (innerOf.get(x) as T | undefined) : undefined) ?? x;
}

const CHUNK_IN_LABEL = /\bchunk[\s#:=]*(\d+)/i;

class CheckedDeviceImpl implements CheckedDevice {
  readonly hazards: HazardError[] = [];
  private readonly host: VectorClock = [0];
  private nextActor = HOST_ACTOR + 1;
  private readonly streams = new Map<Stream, StreamState>();
  private readonly shadows = new WeakMap<object, BufferShadow>();
  /** The join of the clocks of streams closed since the last device.synchronize(). */
  private closedClock: VectorClock = [];
  /**
   * A pool of checked resources, apart from the inner device's: its fences are checked events,
   * so every reuse is an isDone() or waitEvent() the checker orders like any other.
   */
  readonly pool: DevicePool = new CheckedPool(this);

  constructor(
    readonly inner: DeviceCore,
    private readonly options: CheckOptions,
  ) {}

  get ordinal(): number {
    return this.inner.ordinal;
  }
  get properties(): DeviceProperties {
    return this.inner.properties;
  }
  readonly readsHostAccessLabels = true;

  get backend(): 'cuda' | 'fake' {
    return this.inner.backend;
  }
  get closed(): boolean {
    return this.inner.closed;
  }
  clearHazards(): void {
    this.hazards.length = 0;
  }
  memoryInfo(): MemoryInfo {
    return this.inner.memoryInfo();
  }

  reserve(options: ReserveOptions): void {
    this.pool.reserve(options);
  }

  createStream(options?: StreamOptions): Stream {
    const s = this.inner.createStream(options);
    this.streamState(s);
    return wrap(new CheckedStream(this, s), s);
  }
  createEvent(options?: EventOptions): Event {
    const e = this.inner.createEvent(options);
    return wrap(new CheckedEvent(this, e), e);
  }
  allocDevice(bytes: number, label?: string): DeviceBuffer {
    const b = this.inner.allocDevice(bytes, label);
    return wrap(new CheckedDeviceBuffer(this, b), b);
  }
  allocPinned(bytes: number, label?: string): PinnedBuffer {
    const b = this.inner.allocPinned(bytes, label);
    return wrap(new CheckedPinnedBuffer(this, b), b);
  }

  copy(stream: Stream, dst: HostOrDevice, src: HostOrDevice, options?: CopyOptions): void {
    const s = unwrap(stream);
    const d = unwrap(dst);
    const r = unwrap(src);
    const requests: Request[] = [];
    const srcShadow = this.shadowOf(r);
    const dstShadow = this.shadowOf(d);
    const bytes = options?.bytes ?? r?.byteLength ?? 0;
    const so = options?.srcOffset ?? 0;
    const dof = options?.dstOffset ?? 0;
    if (srcShadow) requests.push({ shadow: srcShadow, access: 'read', start: so, end: so + bytes });
    if (dstShadow) requests.push({ shadow: dstShadow, access: 'write', start: dof, end: dof + bytes });
    const kind: OpKind =
      d?.kind === 'device' ? (r?.kind === 'device' ? 'd2d' : 'h2d') : r?.kind === 'device' ? 'd2h' : 'h2h';
    this.onStream(s, kind, '', options?.chunk, requests, () => this.inner.copy(s, d, r, options));
  }

  memset(stream: Stream, dst: DeviceBuffer, value: number, options?: { bytes?: number; offset?: number }): void {
    const s = unwrap(stream);
    const d = unwrap(dst);
    const shadow = this.shadowOf(d);
    const start = options?.offset ?? 0;
    const end = start + (options?.bytes ?? (d?.byteLength ?? 0) - start);
    const requests: Request[] = shadow ? [{ shadow, access: 'write', start, end }] : [];
    this.onStream(s, 'memset', '', undefined, requests, () => this.inner.memset(s, d, value, options));
  }

  compile(source: string, options?: CompileOptions): Program {
    return new CheckedProgram(this, this.inner.compile(source, options));
  }

  async synchronize(): Promise<void> {
    // Work of streams closed since the last call still runs, and the device still waits for it.
    const snapshot = [...this.streams.values()].map((st) => st.clock.slice());
    snapshot.push(this.closedClock);
    this.closedClock = [];
    await this.inner.synchronize();
    for (const c of snapshot) joinInto(this.host, c);
  }

  /** The overlap pipeline on the checked device: every access of its runs is checked. */
  pipeline<I = number>(options: PipelineOptions<I>): Pipeline<I> {
    return createPipeline(this, options);
  }

  hostAccess(buffer: PinnedBuffer, access: 'read' | 'write', label?: string): void {
    const b = unwrap(buffer);
    const shadow = this.shadowOf(b);
    const m = label ? CHUNK_IN_LABEL.exec(label) : null;
    const op: OpInfo = { kind: 'host', access, where: 'host', chunk: m ? Number(m[1]) : null, name: label ?? '' };
    if (shadow) {
      const hazard = shadow.check(access, 0, shadow.byteLength, this.host, op);
      if (hazard) this.report(hazard);
    }
    this.inner.hostAccess(b, access, label);
    if (shadow)
      shadow.commit(access, 0, shadow.byteLength, { actor: HOST_ACTOR, time: tick(this.host, HOST_ACTOR), op });
  }

  close(): void {
    this.pool.close();
    this.inner.close();
  }
  [Symbol.dispose](): void {
    this.close();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.inner[Symbol.asyncDispose]();
  }

  // ---- used by the wrappers ----

  streamState(s: Stream): StreamState {
    let st = this.streams.get(s);
    if (!st) {
      st = { actor: this.nextActor++, label: s.label, clock: [] };
      this.streams.set(s, st);
    }
    return st;
  }

  forgetStream(s: Stream): void {
    const st = this.streams.get(s);
    if (st) joinInto(this.closedClock, st.clock);
    this.streams.delete(s);
  }

  /** Everything the host did so far happens before work it enqueues now. */
  enqueue(s: Stream): StreamState {
    const st = this.streamState(s);
    joinInto(st.clock, this.host);
    return st;
  }

  joinHost(clock: readonly number[]): void {
    joinInto(this.host, clock);
  }

  /** Checks `requests` as one operation on stream `s`, runs it, then records it. */
  onStream(
    s: Stream,
    kind: OpKind,
    name: string,
    chunk: number | undefined,
    requests: Request[],
    run: () => void,
  ): void {
    const st = this.enqueue(s);
    const op: OpInfo = { kind, access: 'read', where: st.label, chunk: chunk ?? null, name };
    for (const q of requests) {
      const hazard = q.shadow.check(q.access, q.start, q.end, st.clock, { ...op, access: q.access });
      if (hazard) {
        this.report(hazard);
        break;
      }
    }
    run();
    const time = tick(st.clock, st.actor);
    for (const q of requests)
      q.shadow.commit(q.access, q.start, q.end, { actor: st.actor, time, op: { ...op, access: q.access } });
  }

  shadowOf(b: unknown): BufferShadow | null {
    if (typeof b !== 'object' || b === null) return null;
    const buf = b as Partial<DeviceBuffer | PinnedBuffer>;
    if (buf.kind !== 'device' && buf.kind !== 'pinned') return null;
    let sh = this.shadows.get(b);
    if (!sh) {
      sh = new BufferShadow(buf.label || `${buf.kind} buffer`, buf.kind, buf.byteLength ?? 0);
      this.shadows.set(b, sh);
    }
    return sh;
  }

  private report(hazard: HazardError): void {
    this.hazards.push(hazard);
    const on = this.options.onHazard ?? 'throw';
    if (on === 'throw') throw hazard;
    if (typeof on === 'function') on(hazard);
  }
}

/** The checked device's pool: each buffer it hands out starts a new holder in the buffer's shadow. */
class CheckedPool extends DevicePool {
  constructor(private readonly owner: CheckedDeviceImpl) {
    super(owner);
  }
  override acquirePinned(bytes: number, label?: string): PinnedBuffer {
    const b = super.acquirePinned(bytes, label);
    this.owner.shadowOf(unwrap(b))?.reissue();
    return b;
  }
  override acquireDevice(bytes: number, label?: string, stream?: Stream): DeviceBuffer {
    const b = super.acquireDevice(bytes, label, stream);
    this.owner.shadowOf(unwrap(b))?.reissue();
    return b;
  }
}

function wrap<T extends object>(wrapper: T, inner: object): T {
  innerOf.set(wrapper, inner);
  return wrapper;
}

class CheckedStream implements Stream {
  constructor(
    private readonly owner: CheckedDeviceImpl,
    private readonly inner: Stream,
  ) {}
  get device(): DeviceCore {
    return this.owner;
  }
  get label(): string {
    return this.inner.label;
  }
  get priority(): number {
    return this.inner.priority;
  }
  get closed(): boolean {
    return this.inner.closed;
  }
  waitEvent(event: Event): void {
    const e = unwrap(event);
    this.inner.waitEvent(e);
    const st = this.owner.enqueue(this.inner);
    const clock = recordedClock.get(e);
    if (clock) joinInto(st.clock, clock);
  }
  async synchronize(): Promise<void> {
    const snapshot = this.owner.streamState(this.inner).clock.slice();
    await this.inner.synchronize();
    this.owner.joinHost(snapshot);
  }
  close(): void {
    if (!this.inner.closed) this.owner.forgetStream(this.inner);
    this.inner.close();
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

// The stream clock an event's last record captured, keyed by the event underneath (so a
// record through one wrapper and a wait through another agree).
const recordedClock = new WeakMap<Event, VectorClock>();

class CheckedEvent implements Event {
  constructor(
    private readonly owner: CheckedDeviceImpl,
    private readonly inner: Event,
  ) {}
  get device(): DeviceCore {
    return this.owner;
  }
  get label(): string {
    return this.inner.label;
  }
  get timing(): boolean {
    return this.inner.timing;
  }
  get closed(): boolean {
    return this.inner.closed;
  }
  record(stream: Stream): void {
    const s = unwrap(stream);
    this.inner.record(s);
    recordedClock.set(this.inner, this.owner.enqueue(s).clock.slice());
  }
  isDone(): boolean {
    const snapshot = recordedClock.get(this.inner);
    const done = this.inner.isDone();
    if (done && snapshot) this.owner.joinHost(snapshot);
    return done;
  }
  async completion(): Promise<void> {
    const snapshot = recordedClock.get(this.inner);
    await this.inner.completion();
    if (snapshot) this.owner.joinHost(snapshot);
  }
  elapsedMs(start: Event): number {
    return this.inner.elapsedMs(unwrap(start));
  }
  close(): void {
    this.inner.close();
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

class CheckedDeviceBuffer implements DeviceBuffer {
  readonly kind = 'device';
  constructor(
    private readonly owner: CheckedDeviceImpl,
    private readonly inner: DeviceBuffer,
  ) {}
  get device(): DeviceCore {
    return this.owner;
  }
  get byteLength(): number {
    return this.inner.byteLength;
  }
  get ptr(): bigint {
    return this.inner.ptr;
  }
  get label(): string {
    return this.inner.label;
  }
  get closed(): boolean {
    return this.inner.closed;
  }
  close(): void {
    this.inner.close();
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

class CheckedPinnedBuffer implements PinnedBuffer {
  readonly kind = 'pinned';
  constructor(
    private readonly owner: CheckedDeviceImpl,
    private readonly inner: PinnedBuffer,
  ) {}
  get device(): DeviceCore {
    return this.owner;
  }
  get byteLength(): number {
    return this.inner.byteLength;
  }
  get label(): string {
    return this.inner.label;
  }
  get closed(): boolean {
    return this.inner.closed;
  }
  get bytes(): Uint8Array {
    return this.inner.bytes;
  }
  asBuffer(): Buffer {
    return this.inner.asBuffer();
  }
  view<T extends ArrayBufferView>(ctor: TypedArrayConstructor<T>, byteOffset?: number, length?: number): T {
    return this.inner.view(ctor, byteOffset, length);
  }
  close(): void {
    this.inner.close();
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

class CheckedProgram implements Program {
  constructor(
    private readonly owner: CheckedDeviceImpl,
    private readonly inner: Program,
  ) {}
  get closed(): boolean {
    return this.inner.closed;
  }
  getKernel(name: string, signature?: readonly ArgType[]): Kernel {
    const kernel = signature ? this.inner.getKernel(name, signature) : this.inner.getKernel(name);
    return new CheckedKernel(this.owner, kernel);
  }
  close(): void {
    this.inner.close();
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

class CheckedKernel implements Kernel {
  constructor(
    private readonly owner: CheckedDeviceImpl,
    private readonly inner: Kernel,
  ) {}
  get name(): string {
    return this.inner.name;
  }
  get signature(): readonly ArgType[] {
    return this.inner.signature;
  }
  launch(stream: Stream, options: LaunchOptions, ...args: KernelArg[]): void {
    const s = unwrap(stream);
    const reads = new Set<object>((options.reads ?? []).map(unwrap));
    const writes = new Set<object>((options.writes ?? []).map(unwrap));
    const innerArgs = args.map(unwrap);
    // Buffer arguments (and buffers named only in reads/writes) each checked once, as read
    // when marked read-only, write when marked write-only, and write (which also orders against
    // earlier reads) otherwise.
    const touched = new Map<object, 'read' | 'write'>();
    for (const a of [...innerArgs, ...reads, ...writes]) {
      if (typeof a !== 'object' || a === null || touched.has(a)) continue;
      touched.set(a, reads.has(a) && !writes.has(a) ? 'read' : 'write');
    }
    const requests: Request[] = [];
    for (const [b, access] of touched) {
      const shadow = this.owner.shadowOf(b);
      if (shadow) requests.push({ shadow, access, start: 0, end: shadow.byteLength });
    }
    const innerOptions: LaunchOptions =
      options.reads || options.writes
        ? { ...options, reads: options.reads?.map(unwrap), writes: options.writes?.map(unwrap) }
        : options;
    this.owner.onStream(s, 'kernel', this.inner.name, options.chunk, requests, () =>
      this.inner.launch(s, innerOptions, ...innerArgs),
    );
  }
}
