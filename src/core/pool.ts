// DevicePool: one per device, shared by every pipeline on it. It keeps pinned buffers, device
// buffers, streams and events that a run handed back, and hands them to the next run of any
// pipeline instead of allocating: page-locking host memory costs milliseconds per 64 MiB, which a
// service running one short pipeline per job would otherwise pay on every job.
//
// Reuse is stream-ordered. A resource goes back with fences: events recorded after its last use
// (fence()). It is handed out again only once every fence has completed as the host sees it
// (Event.isDone()), or, for a device buffer acquired for a stream, at once with a GPU-side wait
// on each fence enqueued on that stream (the work the new owner enqueues there runs after the old
// owner's). Both are ordinary event operations, so the hazard checker sees every reuse: a pool
// that skipped them would let the new owner's first access race the old owner's last one.
//
// Size classes: one per byte length. A buffer handed out has exactly the length asked, because
// copies and kernels take their extent from byteLength; a ring asks for the same chunk size run
// after run, so exact classes still hit.
//
// The pool allocates through the DeviceCore interface, so it works unchanged on a CUDA device, the
// fake device and the hazard checker's device (which then sees the pooled resources as its own).
import { UsageError } from '../util/errors.js';
import { formatBytes } from '../util/format.js';
import type {
  DeviceCore,
  DeviceBuffer,
  Event,
  EventOptions,
  PinnedBuffer,
  Resource,
  Stream,
  StreamOptions,
} from './types.js';

export type PoolKind = 'pinned' | 'device' | 'stream' | 'event';

export interface PoolKindStats {
  /** Idle in the pool: resources and, for buffers, their bytes. */
  held: number;
  heldBytes: number;
  /** Handed out and not yet back. */
  inUse: number;
  inUseBytes: number;
  /** Requests served from the pool / by a new allocation. */
  hits: number;
  misses: number;
}

export interface PoolStats {
  pinned: PoolKindStats;
  device: PoolKindStats;
  stream: PoolKindStats;
  event: PoolKindStats;
  /** Page-locked bytes the pool owns (idle and in use). */
  bytesPinned: number;
  /** Device bytes the pool owns (idle and in use). */
  bytesDevice: number;
  limits: PoolLimits;
}

export interface PoolLimits {
  /** Most idle pinned bytes kept; beyond it the least recently returned buffers are freed. */
  pinnedBytes: number;
  /** Most idle device bytes kept, likewise. */
  deviceBytes: number;
}

export interface ReserveOptions {
  /** Pinned bytes to page-lock now, as buffers of `bufferBytes`. */
  pinnedBytes?: number;
  /** Device bytes to allocate now, as buffers of `bufferBytes`. */
  deviceBytes?: number;
  /** The size of each buffer: the pipeline's outputBytes (or inputBytes), since classes are exact. */
  bufferBytes: number;
}

/** Idle streams and events kept at most (they cost little memory, but a label per job would pile up). */
const MAX_IDLE_HANDLES = 256;

/**
 * The labels of a pipeline run's streams, by role. A run's streams are named by role alone (its
 * errors name the pipeline), so that a stream one pipeline handed back serves the next of any
 * label, and reserve() can make them before the first run.
 */
export const RUN_STREAM_LABELS = { compute: 'compute', copy: 'copy', upload: 'upload', serial: 'serial' } as const;

interface Idle<T> {
  readonly resource: T;
  readonly key: string | number;
  fences: Event[];
}

type Pooled = PinnedBuffer | DeviceBuffer | Stream | Event;

export class DevicePool implements Disposable {
  #closed = false;
  readonly #idle = { pinned: [] as Idle<PinnedBuffer>[], device: [] as Idle<DeviceBuffer>[] };
  readonly #idleStreams: Idle<Stream>[] = [];
  readonly #idleEvents: Idle<Event>[] = [];
  /** What is handed out, with its kind and size class. */
  readonly #inUse = new Map<Pooled, { kind: PoolKind; key: string | number }>();
  /** Fence events the pool owns, and how many idle entries still wait on each. */
  readonly #fenceRefs = new Map<Event, number>();
  /**
   * Fences the host has seen complete. Only fence() records a fence, so one seen complete stays
   * so until fence() takes it again: each is queried until it completes, then never again (a run
   * takes dozens of resources, each behind the same few fences).
   */
  readonly #fencesSeenDone = new WeakSet<Event>();
  readonly #count = {
    pinned: { hits: 0, misses: 0 },
    device: { hits: 0, misses: 0 },
    stream: { hits: 0, misses: 0 },
    event: { hits: 0, misses: 0 },
  };
  /** What the latest allocation of each kind cost per byte (host ms), or null before any. */
  readonly #msPerByte: { pinned: number | null; device: number | null } = { pinned: null, device: null };
  #limits: PoolLimits = { pinnedBytes: Infinity, deviceBytes: Infinity };

  /**
   * `hostClock`: what allocation times are measured with (ms); the fake device's virtual clock
   * passes its own, so that what 'auto' weighs a ring's growth against repeats from run to run.
   */
  constructor(
    readonly device: DeviceCore,
    private readonly hostClock: () => number = () => performance.now(),
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  get limits(): PoolLimits {
    return { ...this.#limits };
  }

  /** Sets the most idle bytes kept per kind (Infinity: keep all) and frees what is over it now. */
  setLimits(limits: Partial<PoolLimits>): void {
    for (const [k, v] of Object.entries(limits)) {
      if (v === undefined) continue;
      if (typeof v !== 'number' || !(v >= 0))
        throw new UsageError(`pool limit ${k} must be a number of bytes >= 0 (Infinity: no limit); got ${String(v)}`);
    }
    this.#limits = {
      ...this.#limits,
      ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)),
    };
    this.#enforceLimit('pinned');
    this.#enforceLimit('device');
  }

  /** Page-locked host memory of exactly `bytes`, idle in the pool if one's fences completed. */
  acquirePinned(bytes: number, label = ''): PinnedBuffer {
    return this.#acquire('pinned', this.#idle.pinned, bytes, null, () => this.device.allocPinned(bytes, label));
  }

  /**
   * Device memory of exactly `bytes`. With `stream`, an idle buffer whose fences are still pending
   * is handed out at once, `stream` waiting on them on the GPU: use it on that stream first.
   */
  acquireDevice(bytes: number, label = '', stream?: Stream): DeviceBuffer {
    return this.#acquire('device', this.#idle.device, bytes, stream ?? null, () =>
      this.device.allocDevice(bytes, label),
    );
  }

  /** A stream with this label, priority and blocking mode. */
  acquireStream(options: StreamOptions = {}): Stream {
    return this.#acquire('stream', this.#idleStreams, streamKey(options), null, () =>
      this.device.createStream(options),
    );
  }

  /** An event (with or without timing); its label is the first user's. */
  acquireEvent(options: EventOptions = {}): Event {
    const key = options.timing ? 'timing' : 'plain';
    return this.#acquire('event', this.#idleEvents, key, null, () => this.device.createEvent(options));
  }

  /**
   * Events recorded now on each of `streams`: fences for release(). Each completes once the work
   * enqueued so far on its stream has; the pool owns them from here on.
   */
  fence(streams: Iterable<Stream>): Event[] {
    const open = [...new Set(streams)].filter((s) => !s.closed);
    // All taken before any is marked: taking one retires unreferenced fences into the idle events.
    const fences = open.map(() => this.acquireEvent());
    for (let k = 0; k < open.length; k++) {
      const e = fences[k]!;
      this.#inUse.delete(e);
      this.#fenceRefs.set(e, 0);
      this.#fencesSeenDone.delete(e);
      e.record(open[k]!);
    }
    return fences;
  }

  /**
   * Takes back what acquire*() handed out. `fences` (from fence()) cover its last use; without
   * them it is reusable at once. A resource closed meanwhile (a sink still reading a timed-out
   * slot frees it itself) is forgotten; one the pool did not hand out is refused.
   */
  release(resource: Pooled, fences: readonly Event[] = []): void {
    const entry = this.#inUse.get(resource);
    if (!entry) throw new UsageError(`pool.release: '${resource.label}' was not handed out by this pool`);
    this.#inUse.delete(resource);
    if (resource.closed) return;
    if (this.#closed || this.device.closed) {
      closeQuietly(resource);
      return;
    }
    for (const f of fences) this.#fenceRefs.set(f, (this.#fenceRefs.get(f) ?? 0) + 1);
    const idle = { resource, key: entry.key, fences: [...fences] } as Idle<never>;
    switch (entry.kind) {
      case 'pinned':
      case 'device':
        this.#idle[entry.kind].push(idle);
        this.#enforceLimit(entry.kind);
        break;
      case 'stream':
        this.#pushHandle(this.#idleStreams, idle);
        break;
      case 'event':
        this.#pushHandle(this.#idleEvents, idle);
        break;
    }
    this.#retireFences();
  }

  /**
   * Allocates now what the first runs would otherwise allocate: the buffers, `bufferBytes` each;
   * beside each buffer one plain and one timing event (a run pairs every ring slot's buffer with
   * an event, and times its first chunks when its depth is 'auto'); and a run's compute and copy
   * streams at the default priority. Each is topped up to those counts.
   */
  reserve(options: ReserveOptions): void {
    this.#assertOpen();
    const size = options.bufferBytes;
    if (!Number.isSafeInteger(size) || size <= 0)
      throw new UsageError(`reserve: bufferBytes must be a positive integer (the chunk size); got ${size}`);
    let buffers = 0;
    for (const kind of ['pinned', 'device'] as const) {
      const total = kind === 'pinned' ? (options.pinnedBytes ?? 0) : (options.deviceBytes ?? 0);
      if (!Number.isFinite(total) || total < 0)
        throw new UsageError(`reserve: ${kind}Bytes must be a number of bytes >= 0; got ${total}`);
      const have = this.#idle[kind].filter((e) => e.key === size).length;
      const want = Math.ceil(total / size);
      for (let k = have; k < want; k++) {
        const b =
          kind === 'pinned'
            ? this.device.allocPinned(size, `reserved pinned ${formatBytes(size)}`)
            : this.device.allocDevice(size, `reserved device ${formatBytes(size)}`);
        this.#idle[kind].push({ resource: b as never, key: size, fences: [] });
      }
      buffers += want;
    }
    // Each kind of event at most half the idle handles kept, so that none made here is dropped.
    for (const timing of [false, true]) {
      const key = timing ? 'timing' : 'plain';
      const have = this.#idleEvents.filter((e) => e.key === key).length;
      for (let k = have; k < Math.min(buffers, MAX_IDLE_HANDLES / 2); k++) {
        const resource = this.device.createEvent({ timing, label: `reserved ${key} event` });
        this.#idleEvents.push({ resource, key, fences: [] });
      }
    }
    for (const label of [RUN_STREAM_LABELS.compute, RUN_STREAM_LABELS.copy]) {
      const key = streamKey({ label });
      if (!this.#idleStreams.some((e) => e.key === key))
        this.#idleStreams.push({ resource: this.device.createStream({ label }), key, fences: [] });
    }
  }

  /** Idle buffers of `bytes` that could be handed out now (their fences completed). */
  ready(kind: 'pinned' | 'device', bytes: number): number {
    let n = 0;
    for (const e of this.#idle[kind]) if (e.key === bytes && this.#fencesDone(e)) n++;
    return n;
  }

  /**
   * Host ms a new buffer of `bytes` would block for, from the latest allocation of that kind
   * (pinning is the costly one); null before the pool made any.
   */
  allocMs(kind: 'pinned' | 'device', bytes: number): number | null {
    const m = this.#msPerByte[kind];
    return m === null ? null : m * bytes;
  }

  stats(): PoolStats {
    this.#prune();
    const kind = (k: PoolKind, idle: readonly Idle<Pooled>[]): PoolKindStats => {
      let held = 0;
      let heldBytes = 0;
      let inUse = 0;
      let inUseBytes = 0;
      for (const e of idle) {
        held++;
        heldBytes += byteLengthOf(e.resource);
      }
      for (const [r, e] of this.#inUse) {
        if (e.kind !== k || r.closed) continue;
        inUse++;
        inUseBytes += byteLengthOf(r);
      }
      return { held, heldBytes, inUse, inUseBytes, ...this.#count[k] };
    };
    const pinned = kind('pinned', this.#idle.pinned);
    const device = kind('device', this.#idle.device);
    return {
      pinned,
      device,
      stream: kind('stream', this.#idleStreams),
      event: kind('event', this.#idleEvents),
      bytesPinned: pinned.heldBytes + pinned.inUseBytes,
      bytesDevice: device.heldBytes + device.inUseBytes,
      limits: this.limits,
    };
  }

  /**
   * Frees idle buffers (least recently returned first) until at most `keepBytes` of each kind are
   * idle, and every idle stream and event. Resources whose fences have not completed stay: they
   * are still in use on the GPU. Returns the bytes freed.
   */
  trim(keepBytes = 0): number {
    this.#prune();
    const freed = this.#evict('pinned', keepBytes) + this.#evict('device', keepBytes);
    // Twice: closing a fenced stream retires its fence into the idle events.
    for (let pass = 0; pass < 2; pass++) {
      for (const list of [this.#idleStreams, this.#idleEvents] as Idle<Pooled>[][]) {
        for (let k = 0; k < list.length; k++) {
          const e = list[k]!;
          if (!this.#fencesDone(e)) continue;
          list.splice(k--, 1);
          this.#dropFences(e);
          closeQuietly(e.resource);
        }
      }
      this.#retireFences();
    }
    return freed;
  }

  /**
   * Frees every idle resource now, whatever its fences (the device closes the pool after it
   * synchronised; call it yourself only once the work that used them is done). Resources in use
   * are freed as they come back.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const all: Idle<Pooled>[] = [...this.#idle.pinned, ...this.#idle.device, ...this.#idleStreams, ...this.#idleEvents];
    this.#idle.pinned.length = this.#idle.device.length = this.#idleStreams.length = this.#idleEvents.length = 0;
    for (const e of all) closeQuietly(e.resource);
    for (const f of this.#fenceRefs.keys()) closeQuietly(f);
    this.#fenceRefs.clear();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // ---- internals ---------------------------------------------------------------------------

  /** Forgets what was handed out and then closed by its holder instead of released. */
  #prune(): void {
    for (const r of this.#inUse.keys()) if (r.closed) this.#inUse.delete(r);
  }

  #assertOpen(): void {
    if (this.#closed) throw new UsageError('the device pool was closed (device.close()); open the device again');
  }

  /** An idle entry of `key` whose fences completed (or, with `stream`, any: the stream waits). */
  #take<T extends Pooled>(list: Idle<T>[], key: string | number, stream: Stream | null): T | null {
    // Most recently returned first: its memory is the likeliest still in the caches and TLB.
    let pending = -1;
    for (let k = list.length - 1; k >= 0; k--) {
      const e = list[k]!;
      if (e.key !== key) continue;
      if (this.#fencesDone(e)) return this.#takeAt(list, k, null);
      if (pending < 0) pending = k;
    }
    return stream && pending >= 0 ? this.#takeAt(list, pending, stream) : null;
  }

  #takeAt<T extends Pooled>(list: Idle<T>[], k: number, stream: Stream | null): T {
    const e = list[k]!;
    list.splice(k, 1);
    if (stream) for (const f of e.fences) if (!this.#fenceDone(f)) stream.waitEvent(f);
    this.#dropFences(e);
    this.#retireFences();
    return e.resource;
  }

  /** An idle entry of `key` (see #take), else a new one from `make`; counted and marked in use. */
  #acquire<T extends Pooled>(
    kind: PoolKind,
    list: Idle<T>[],
    key: string | number,
    stream: Stream | null,
    make: () => T,
  ): T {
    this.#assertOpen();
    let r = this.#take(list, key, stream);
    if (r) this.#count[kind].hits++;
    else {
      this.#count[kind].misses++;
      const t = this.hostClock();
      try {
        r = make();
      } catch (err) {
        // Out of memory with idle buffers of other sizes held: free those and try once more.
        if ((kind !== 'pinned' && kind !== 'device') || this.#evict(kind, 0) === 0) throw err;
        r = make();
      }
      if (kind === 'pinned' || kind === 'device') this.#msPerByte[kind] = (this.hostClock() - t) / (key as number);
    }
    this.#inUse.set(r, { kind, key });
    return r;
  }

  #fencesDone(e: Idle<Pooled>): boolean {
    for (const f of e.fences) if (!this.#fenceDone(f)) return false;
    return true;
  }

  #fenceDone(f: Event): boolean {
    if (this.#fencesSeenDone.has(f)) return true;
    if (!f.isDone()) return false;
    this.#fencesSeenDone.add(f);
    return true;
  }

  #dropFences(e: Idle<Pooled>): void {
    for (const f of e.fences) this.#fenceRefs.set(f, (this.#fenceRefs.get(f) ?? 1) - 1);
    e.fences = [];
  }

  /** Fence events no idle entry waits on become plain idle events again. */
  #retireFences(): void {
    for (const [f, n] of this.#fenceRefs) {
      if (n > 0) continue;
      this.#fenceRefs.delete(f);
      if (this.#closed) closeQuietly(f);
      else this.#pushHandle(this.#idleEvents, { resource: f, key: 'plain', fences: [] });
    }
  }

  #pushHandle<T extends Pooled>(list: Idle<T>[], e: Idle<T>): void {
    list.push(e);
    // The oldest idle handle goes when too many pile up; one still fenced waits for the next turn.
    if (list.length > MAX_IDLE_HANDLES && this.#fencesDone(list[0]!)) {
      const old = list.shift()!;
      this.#dropFences(old);
      closeQuietly(old.resource);
    }
  }

  #heldBytes(kind: 'pinned' | 'device'): number {
    let n = 0;
    for (const e of this.#idle[kind]) n += e.key as number;
    return n;
  }

  #enforceLimit(kind: 'pinned' | 'device'): void {
    const limit = kind === 'pinned' ? this.#limits.pinnedBytes : this.#limits.deviceBytes;
    if (this.#heldBytes(kind) > limit) this.#evict(kind, limit);
  }

  /** Frees idle buffers of `kind`, oldest first, whose fences completed, down to `keepBytes`. */
  #evict(kind: 'pinned' | 'device', keepBytes: number): number {
    const list = this.#idle[kind] as Idle<Pooled>[];
    let held = this.#heldBytes(kind);
    let freed = 0;
    for (let k = 0; k < list.length && held > keepBytes; k++) {
      const e = list[k]!;
      if (!this.#fencesDone(e)) continue;
      list.splice(k--, 1);
      this.#dropFences(e);
      closeQuietly(e.resource);
      held -= e.key as number;
      freed += e.key as number;
    }
    this.#retireFences();
    return freed;
  }
}

function byteLengthOf(r: Pooled): number {
  return 'byteLength' in r ? r.byteLength : 0;
}

function closeQuietly(r: Resource): void {
  try {
    r.close();
  } catch {
    // A lost context fails every release; the context's own release frees the memory.
  }
}

/** A stream's size class: streams of the same label, priority and blocking mode are interchangeable. */
function streamKey(options: StreamOptions): string {
  return `${options.label ?? ''}\u0000${options.priority ?? 0}\u0000${options.nonBlocking ?? true}`;
}
