// One run of a pipeline: the ring, the five barriers, three host loops, drain, errors, stats.
//
// Three loops, each strictly in chunk order, none ever blocking the event loop:
//   produce:  input → [host fills staging[i] → H2D(n)] → compute(n)
//   copy:     D2H(n), once the host released the slot's previous chunk
//   deliver:  waits for D2H(n)'s event, then hands the pinned slot to the host stage
// The barriers (DESIGN.md numbering), for chunk n in slot i whose previous user is chunk p,
// and which mechanism enforces each:
//   1. compute(n) writes out[i] only after D2H(p) finished reading it. Host order when the host
//      has already seen D2H(p) complete (copied[i]'s completion, barrier 4), and always at depth
//      ≥ 3: the host enqueues compute(n) only after that, so no GPU-side wait is needed (it
//      costs GPU time per chunk, which a compute-bound run at 0.999 cannot spare). At depth ≤ 2,
//      a GPU-side event wait: compute stream waits on copied[i], enqueued only after D2H(p) was
//      enqueued, else it would wait on a stale record.
//   2. D2H(n) waits on computed[i] (compute(n) finished writing out[i]): a GPU-side event wait.
//   3. D2H(n) is enqueued only after the host released chunk p (pinned[i] is free): host order.
//   4. The host reads pinned[i] only after copied[i]'s completion() for D2H(n): host observation.
//      The device's waiter polls from the event loop while completions keep coming (see
//      core/completion/worker-waiter.ts), so the host turns a finished D2H(p) into an enqueued
//      D2H(n) within microseconds; a deeper ring hides what latency is left.
//   5. compute(n) waits on uploaded[i] (H2D(n)); H2D(n) waits on computed[i] (compute(p) no
//      longer reads in[i]): GPU-side event waits; and the host refills staging[i] only after
//      H2D(p) completed: host observation.
// Keyed on the previous user rather than n - depth, so the ring can grow once ('auto').
// Compute may run ahead of a slow host stage by up to 2 × depth chunks, never more.
import type { Device, PinnedBuffer, Stream } from '../core/types.js';
import { CudaError, UsageError } from '../cuda/errors.js';
import { AsyncQueue, Deferred, Semaphore, StopSignal, StopSwitch, Watermark } from './async-tools.js';
import { AUTO_JITTER_MS, AUTO_START_BYTES, AUTO_START_DEPTH, AUTO_WARMUP, autoStartDepth, chooseDepth, type StageSample } from './auto-depth.js';
import { PipelineError, abortReason } from './errors.js';
import { openInput, type InputCursor } from './input.js';
import { ResourceBag, allocateSlot, type Slot } from './ring.js';
import { callSink } from './sink-call.js';
import { buildStats } from './stats.js';
import { HostClockAlignment, TimingPool, readSpans, type MeasuredSpans, type TimingSet } from './timing.js';
import type { ChunkTiming, ComputeChunk, OutputChunk, PipelineInput, PipelineOptions, PipelineStats, StageName } from './types.js';


/** Longest stretch the loops may run without letting the event loop turn (ms). */
const STARVE_MS = 4;
interface ChunkState<I> {
  readonly index: number;
  readonly item: I;
  readonly slot: Slot;
  /** The slot's previous user; dropped once D2H(n) is enqueued so chains do not pile up. */
  prev: ChunkState<I> | null;
  readonly copyEnqueued: Deferred;
  readonly released: Deferred;
  readonly timing: TimingSet | null;
  enqueuedCompute: number;
  enqueuedCopy: number;
  spans: MeasuredSpans | null;
  wake: number;
}

interface InFlight {
  timedOut: boolean;
  readonly pinned: PinnedBuffer;
  readonly settled: Deferred;
}

/**
 * From this depth on, barrier 1 is kept by the host (see the header). With d slots the compute
 * stream still has d - 1 chunks queued when the host sees D2H(n - d) complete, and the copy
 * stream as many, so the host's turnaround hides behind them; at depth 2 one chunk is too thin
 * (a round trip of ~10-20 µs at every chunk of a balanced run), so the GPU waits on the event.
 */
const HOST_BARRIER_1_DEPTH = 3;
const AUTO_START_BYTES_MIB = AUTO_START_BYTES / 1024 ** 2;

export type HostStageKind = { kind: 'sink' } | { kind: 'pull'; queue: AsyncQueue<OutputChunk<never>> };

export class PipelineRun<I> {
  readonly label: string;
  private readonly serial: boolean;
  private readonly uploads: boolean;
  private readonly auto: boolean;
  private readonly sw = new StopSwitch();
  private readonly bag = new ResourceBag();
  private error: PipelineError | null = null;
  private aborted: { reason: unknown } | null = null;
  private consumerLeft = false;
  readonly consumerDone = new Deferred();

  private input!: InputCursor<I>;
  private computeStream!: Stream;
  private copyStream!: Stream;
  private uploadStream!: Stream;
  private slots: Slot[] = [];
  private slotUsers: (ChunkState<I> | null)[] = [];
  private depth: number;
  private startDepth: number;
  /** Host time one slot's allocation took at setup ('auto' weighs growing mid-run against it). */
  private allocMsPerSlot = 0;
  private growAt = Infinity;
  private pendingDepth: { depth: number; reason: string } | null = null;
  private depthReason: string | undefined;
  private samples: StageSample[] = [];
  private pool: TimingPool | null = null;
  private hostClock: HostClockAlignment | null = null;

  private readonly copyQ = new AsyncQueue<ChunkState<I>>();
  private readonly deliverQ = new AsyncQueue<ChunkState<I>>();
  private readonly permits: Semaphore;
  private readonly inFlight = new Set<InFlight>();
  private lastChunk: ChunkState<I> | null = null;
  private readonly dataViews = new Map<Slot, Uint8Array>();

  private t0 = 0;
  private lastHostEnd = 0;
  private delivered = 0;
  /** Chunks whose D2H completion the host has seen (all their GPU work is done). */
  private readonly seen = new Watermark();
  private bytesIn = 0;
  private sinkBusy = 0;
  private busy = { upload: 0, compute: 0, copy: 0 };
  private timeline: ChunkTiming[] | null;

  constructor(
    private readonly device: Device,
    private readonly opts: PipelineOptions<I>,
    private readonly inputs: PipelineInput<I>,
    private readonly signal: AbortSignal | undefined,
    private readonly host: HostStageKind,
  ) {
    this.label = opts.label ?? 'pipeline';
    this.serial = opts.mode === 'serial';
    this.uploads = (opts.inputBytes ?? 0) > 0;
    this.auto = !this.serial && (opts.depth ?? 'auto') === 'auto';
    this.startDepth = this.serial ? 1 : this.auto ? AUTO_START_DEPTH : (opts.depth as number);
    this.depth = this.startDepth;
    this.permits = new Semaphore(host.kind === 'pull' ? Number.MAX_SAFE_INTEGER : (opts.sinkConcurrency ?? 1));
    this.timeline = opts.trace ? [] : null;
  }

  get stopped(): boolean {
    return this.sw.stopped;
  }

  /** Stops without an error: the pull consumer left the loop. */
  stopQuietly(): void {
    this.consumerLeft = true;
    this.stop();
  }

  /** Stops as an abort with `reason` (the pipeline was closed, or the signal fired). */
  abort(reason: unknown): void {
    if (this.error || this.aborted || this.consumerLeft) return;
    this.aborted = { reason };
    this.stop();
  }

  async execute(): Promise<PipelineStats> {
    if (this.signal?.aborted) throw abortReason(this.signal);
    this.input = openInput(this.inputs);
    try {
      this.setup();
    } catch (err) {
      this.bag.close();
      this.input.close();
      throw err;
    }
    const onAbort = () => this.abort(abortReason(this.signal!));
    this.signal?.addEventListener('abort', onAbort, { once: true });
    this.t0 = performance.now();
    this.lastHostEnd = this.t0;
    try {
      await Promise.all([this.produce(), this.copyLoop(), this.deliverLoop()]);
      await this.waitHostStages();
    } finally {
      this.signal?.removeEventListener('abort', onAbort);
      await this.teardown();
    }
    if (this.error) throw this.error;
    if (this.aborted) throw this.aborted.reason;
    if (this.auto && !this.depthReason) {
      this.depthReason = `auto depth ${this.depth}: the run had ${this.delivered} chunks, too few to time (needs ${AUTO_WARMUP}); kept the ${this.depth} slots it started with`;
    }
    return buildStats({
      mode: this.serial ? 'serial' : 'overlap',
      depth: this.depth,
      chunks: this.delivered,
      bytesOut: this.delivered * this.opts.outputBytes,
      bytesIn: this.bytesIn,
      wallMs: this.lastHostEnd - this.t0,
      uploads: this.uploads,
      traced: !!this.opts.trace,
      busy: this.busy,
      sinkBusy: this.sinkBusy,
      timeline: this.timeline,
      depthReason: this.depthReason,
    });
  }

  // ---- setup / teardown ---------------------------------------------------------------------

  private setup(): void {
    const d = this.device;
    const p = this.opts.priorities ?? {};
    if (this.serial) {
      const s = this.bag.add(d.createStream({ label: `${this.label} serial`, priority: p.compute }));
      this.computeStream = this.copyStream = this.uploadStream = s;
    } else {
      this.computeStream = this.bag.add(d.createStream({ label: `${this.label} compute`, priority: p.compute }));
      this.copyStream = this.bag.add(d.createStream({ label: `${this.label} copy`, priority: p.copy }));
      this.uploadStream = this.uploads ? this.bag.add(d.createStream({ label: `${this.label} upload`, priority: p.upload })) : this.computeStream;
    }
    if (this.auto) {
      let free = Number.MAX_SAFE_INTEGER;
      try {
        free = d.memoryInfo().free;
      } catch {
        // The allocations below will report the problem.
      }
      const count = typeof this.inputs === 'number' ? this.inputs : null;
      this.startDepth = this.depth = autoStartDepth(this.opts.outputBytes + (this.opts.inputBytes ?? 0), free, count);
    }
    const t = performance.now();
    for (let k = 0; k < this.depth; k++) this.addSlot();
    this.allocMsPerSlot = (performance.now() - t) / this.depth;
    if (this.opts.trace || this.auto) {
      this.pool = new TimingPool(d, this.bag, this.uploads, this.label);
      this.hostClock = HostClockAlignment.start(d, this.bag, this.computeStream, this.label);
    }
  }

  private addSlot(): void {
    const k = this.slots.length;
    this.slots.push(allocateSlot(this.device, this.bag, k, this.opts.outputBytes, this.opts.inputBytes ?? 0, this.label));
    this.slotUsers.push(null);
  }

  private async waitHostStages(): Promise<void> {
    if (this.host.kind === 'pull') {
      // The consumer holds the last chunks until it releases them or leaves the loop.
      const all = Promise.all([...this.inFlight].map((f) => f.settled.promise));
      await Promise.race([all, this.consumerDone.promise]);
      return;
    }
    // A sink that timed out may never settle: do not wait for it (its slot is freed when it does).
    await Promise.all([...this.inFlight].filter((f) => !f.timedOut).map((f) => f.settled.promise));
  }

  private async teardown(): Promise<void> {
    this.input.close();
    // Let the GPU finish what was enqueued before freeing what it reads and writes.
    const streams = new Set([this.computeStream, this.copyStream, this.uploadStream].filter(Boolean));
    await Promise.allSettled([...streams].map((s) => s.synchronize()));
    // A timed-out sink may still read its slot: free that pinned buffer once it settles. (A pull
    // consumer that left the loop gets no such grace: chunk.data ends with the iteration.)
    if (this.host.kind === 'sink') {
      for (const f of this.inFlight) {
        if (!f.timedOut) continue;
        this.bag.detach(f.pinned);
        void f.settled.promise.then(() => f.pinned.close());
      }
    }
    this.bag.close();
  }

  private stop(): void {
    this.sw.stop();
    this.copyQ.close();
    this.deliverQ.close();
    if (this.host.kind === 'pull') this.host.queue.close();
  }

  private fail(stage: StageName, chunk: number, cause: unknown): void {
    if (this.error || this.aborted || this.consumerLeft) return;
    // A sticky fault surfaces at whatever call comes next, often a later chunk's enqueue; the
    // work that faulted is at or after the first chunk whose GPU work was not seen complete.
    if (cause instanceof CudaError && cause.sticky) chunk = Math.min(chunk, this.seen.value);
    this.error = new PipelineError(stage, chunk, cause, this.label);
    this.stop();
  }

  // ---- the ring ----------------------------------------------------------------------------------

  private slotFor(n: number): Slot {
    const k = n < this.growAt ? n % this.startDepth : (n - this.growAt) % this.depth;
    return this.slots[k]!;
  }

  /** Grows the ring once, at the first chunk after the warm-up measurements came in. */
  private maybeGrow(n: number): void {
    const want = this.pendingDepth;
    if (!want) return;
    this.pendingDepth = null;
    this.depthReason = want.reason;
    if (want.depth <= this.depth) return;
    try {
      while (this.slots.length < want.depth) this.addSlot();
    } catch (err) {
      // Keep the slots already made only if all of them are; else stay at the start depth.
      this.depthReason += `; growing failed (${(err as Error).message}), kept ${this.startDepth}`;
      return;
    }
    this.depth = want.depth;
    this.growAt = n;
  }

  private wantTiming(n: number): boolean {
    return !!this.opts.trace || (this.auto && n < AUTO_WARMUP);
  }

  // ---- loop 1: input, upload, compute -------------------------------------------------------

  // When every stage completes at once (the fake device, a sink that settles synchronously) the
  // three loops can chain on promises alone for a whole run, and timers, I/O and signals
  // (AbortSignal.timeout, SIGINT) never get a turn. A marker immediate notes each turn the event
  // loop does take; after STARVE_MS without one, the producer yields once. One setImmediate per
  // turn and one clock read per chunk: nothing on the real device, where completions come from
  // the event loop anyway.
  private lastTurn = performance.now();
  private turnMarked = false;
  private readonly markTurn = (): void => {
    this.turnMarked = false;
    this.lastTurn = performance.now();
  };

  private starving(): boolean {
    if (!this.turnMarked) {
      this.turnMarked = true;
      setImmediate(this.markTurn);
    }
    return performance.now() - this.lastTurn > STARVE_MS;
  }

  private async produce(): Promise<void> {
    let stage: StageName = 'input';
    let n = 0;
    const sw = this.sw;
    try {
      for (; ; n++) {
        stage = 'input';
        if (this.starving()) await new Promise<void>((resolve) => setImmediate(resolve));
        const r = this.input.nextSync ? this.input.nextSync() : await sw.until(this.input.next());
        if (r.done || sw.stopped) return;
        const item = r.value;
        // Serial: the naive baseline finishes chunk n - 1 entirely before starting chunk n.
        if (this.serial && this.lastChunk && !this.lastChunk.released.settled) await sw.until(this.lastChunk.released.promise);
        if (sw.stopped) return;
        this.maybeGrow(n);
        const slot = this.slotFor(n);
        const prev = this.slotUsers[slot.index]!;
        const t = this.wantTiming(n) ? this.pool!.acquire() : null;
        const chunk: ChunkState<I> = {
          index: n,
          item,
          slot,
          prev,
          copyEnqueued: new Deferred(),
          released: new Deferred(),
          timing: t,
          enqueuedCompute: 0,
          enqueuedCopy: 0,
          spans: null,
          wake: 0,
        };

        if (this.uploads) {
          stage = 'upload';
          const up = this.uploadStream;
          // Barrier 5, host side: H2D(p) must have finished reading staging[i].
          if (prev && !slot.uploaded!.isDone()) await sw.until(slot.uploaded!.completion());
          if (sw.stopped) return;
          this.device.hostAccess(slot.staging!, 'write', `${this.label}: host fills input of chunk ${n}`);
          const bytes = await this.fill(slot.staging!, item, n);
          if (sw.stopped) return;
          // Barrier 5: compute(p) no longer reads in[i].
          if (prev) up.waitEvent(slot.computed);
          t?.uploadStart!.record(up);
          if (bytes > 0) this.device.copy(up, slot.in!, slot.staging!, { bytes, chunk: n });
          t?.uploadEnd!.record(up);
          slot.uploaded!.record(up);
          this.bytesIn += bytes;
        }

        stage = 'compute';
        const cs = this.computeStream;
        if (prev && this.seen.value <= prev.index) {
          if (this.depth >= HOST_BARRIER_1_DEPTH) {
            // Barrier 1 on the host: enqueue compute(n) once D2H(p) was seen complete.
            await sw.until(this.seen.until(prev.index + 1));
          } else {
            // Barrier 1 on the GPU: copied[i] must hold D2H(p)'s record before compute(n) waits on it.
            if (!prev.copyEnqueued.settled) await sw.until(prev.copyEnqueued.promise);
            if (sw.stopped) return;
            cs.waitEvent(slot.copied);
          }
          if (sw.stopped) return;
        }
        if (this.uploads) cs.waitEvent(slot.uploaded!); // barrier 5
        t?.computeStart.record(cs);
        chunk.enqueuedCompute = performance.now();
        const view: ComputeChunk<I> = { index: n, slot: slot.index, stream: cs, output: slot.out, input: slot.in, item };
        const ret = this.opts.compute(view);
        if (ret && typeof (ret as Promise<void>).then === 'function') await ret;
        if (sw.stopped) return;
        t?.computeEnd.record(cs);
        slot.computed.record(cs);
        this.slotUsers[slot.index] = chunk;
        this.lastChunk = chunk;
        this.copyQ.push(chunk);
      }
    } catch (err) {
      if (!(err instanceof StopSignal)) this.fail(stage, n, err);
    } finally {
      this.copyQ.close();
    }
  }

  private async fill(staging: PinnedBuffer, item: I, n: number): Promise<number> {
    const size = this.opts.inputBytes!;
    if (typeof item === 'function') {
      await (item as (s: Uint8Array, i: number) => void | Promise<void>)(staging.bytes, n);
      return size;
    }
    if (ArrayBuffer.isView(item)) {
      const src = new Uint8Array(item.buffer, item.byteOffset, item.byteLength);
      if (src.byteLength > size) throw new UsageError(`input of chunk ${n} has ${src.byteLength} bytes but inputBytes is ${size}; raise inputBytes or split the input`);
      staging.bytes.set(src);
      return src.byteLength;
    }
    throw new UsageError(
      `with inputBytes set, each input must be bytes (an ArrayBufferView) or a function (staging, index) that fills the staging view; chunk ${n} got ${typeof item}`,
    );
  }

  // ---- loop 2: D2H ----------------------------------------------------------------------------

  private async copyLoop(): Promise<void> {
    let chunk: ChunkState<I> | undefined;
    const sw = this.sw;
    try {
      while ((chunk = this.copyQ.tryShift() ?? (await this.copyQ.shift())) !== undefined) {
        if (sw.stopped) return;
        // Barrier 3: pinned[i] is free only once the host released the slot's previous chunk.
        if (chunk.prev && !chunk.prev.released.settled) await sw.until(chunk.prev.released.promise);
        if (sw.stopped) return;
        const slot = chunk.slot;
        const cp = this.copyStream;
        cp.waitEvent(slot.computed); // barrier 2
        chunk.timing?.copyStart.record(cp);
        chunk.enqueuedCopy = performance.now();
        this.device.copy(cp, slot.pinned, slot.out, { chunk: chunk.index });
        chunk.timing?.copyEnd.record(cp);
        slot.copied.record(cp);
        chunk.prev = null;
        chunk.copyEnqueued.resolve();
        this.deliverQ.push(chunk);
      }
    } catch (err) {
      if (!(err instanceof StopSignal)) this.fail('copy', chunk?.index ?? 0, err);
    } finally {
      this.deliverQ.close();
    }
  }

  // ---- loop 3: delivery to the host stage -----------------------------------------------------

  private async deliverLoop(): Promise<void> {
    let chunk: ChunkState<I> | undefined;
    const sw = this.sw;
    try {
      while ((chunk = this.deliverQ.tryShift() ?? (await this.deliverQ.shift())) !== undefined) {
        if (sw.stopped) return;
        const waitFrom = performance.now();
        const copied = chunk.slot.copied;
        if (!copied.isDone()) await sw.until(copied.completion()); // barrier 4
        this.seen.advance(chunk.index + 1);
        const seen = performance.now();
        if (chunk.timing) {
          chunk.spans = readSpans(chunk.timing, this.hostClock!);
          this.pool!.release(chunk.timing);
          chunk.wake = Math.max(0, seen - Math.max(chunk.spans.copy[1], waitFrom));
          if (this.opts.trace) {
            this.busy.compute += chunk.spans.compute[1] - chunk.spans.compute[0];
            this.busy.copy += chunk.spans.copy[1] - chunk.spans.copy[0];
            if (chunk.spans.upload) this.busy.upload += chunk.spans.upload[1] - chunk.spans.upload[0];
          }
        }
        if (!this.permits.tryAcquire()) await sw.until(this.permits.acquire());
        if (sw.stopped) {
          this.permits.release();
          return;
        }
        this.startHostStage(chunk);
      }
    } catch (err) {
      if (!(err instanceof StopSignal)) this.fail('copy', chunk?.index ?? 0, err);
    } finally {
      // Pull style: the consumer's loop ends once it has taken the last chunk.
      if (this.host.kind === 'pull') this.host.queue.close();
    }
  }

  private dataOf(slot: Slot): Uint8Array {
    let v = this.dataViews.get(slot);
    if (!v) this.dataViews.set(slot, (v = slot.pinned.bytes));
    return v;
  }

  private startHostStage(chunk: ChunkState<I>): void {
    const n = chunk.index;
    const slot = chunk.slot;
    const flight: InFlight = { timedOut: false, pinned: slot.pinned, settled: new Deferred() };
    this.inFlight.add(flight);
    let start = 0;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const end = performance.now();
      this.sinkBusy += end - start;
      if (end > this.lastHostEnd) this.lastHostEnd = end;
      this.inFlight.delete(flight);
      flight.settled.resolve();
      if (this.sw.stopped && !this.consumerLeft && this.host.kind === 'pull') return;
      try {
        if (!slot.pinned.closed) this.device.hostAccess(slot.pinned, 'read', `${this.label}: host releases chunk ${n}`);
      } catch (err) {
        this.fail('sink', n, err);
      }
      if (this.host.kind === 'sink') this.delivered++;
      this.timeline?.push(this.timingOf(chunk, start, end));
      this.sample(chunk, end - start);
      chunk.released.resolve();
      this.permits.release();
    };
    try {
      this.device.hostAccess(slot.pinned, 'read', `${this.label}: host takes chunk ${n}`);
    } catch (err) {
      this.inFlight.delete(flight);
      flight.settled.resolve();
      this.fail('sink', n, err);
      return;
    }
    const out: OutputChunk<I> = { index: n, slot: slot.index, item: chunk.item, data: this.dataOf(slot), pinned: slot.pinned, release };
    start = performance.now();
    if (this.host.kind === 'pull') {
      // Pull style counts a chunk delivered when handed over: the last ones may never be released.
      this.delivered++;
      this.host.queue.push(out as OutputChunk<never>);
      return;
    }
    const sink = this.opts.sink;
    if (!sink) {
      release();
      return;
    }
    callSink(sink, out, this.opts.sinkTimeoutMs, (err) => {
      flight.timedOut = true;
      this.fail('sink', n, err);
    }).then(
      () => {
        if (flight.timedOut) {
          this.inFlight.delete(flight);
          flight.settled.resolve();
          return;
        }
        release();
      },
      (err: unknown) => {
        this.inFlight.delete(flight);
        flight.settled.resolve();
        this.fail('sink', n, err);
      },
    );
  }

  private timingOf(chunk: ChunkState<I>, start: number, end: number): ChunkTiming {
    const s = chunk.spans;
    const t: ChunkTiming = {
      index: chunk.index,
      slot: chunk.slot.index,
      compute: s ? s.compute : [NaN, NaN],
      copy: s ? s.copy : [NaN, NaN],
      sink: [start, end],
      enqueuedCompute: chunk.enqueuedCompute,
      enqueuedCopy: chunk.enqueuedCopy,
    };
    if (s?.upload) t.upload = s.upload;
    return t;
  }

  /**
   * Growing allocates pinned memory on the host thread (milliseconds per 64 MiB, measured at
   * setup as allocMsPerSlot). While it runs nothing is enqueued, so the GPU lives on the work
   * already queued, about (depth - 1) bottleneck periods: grow only if the stall fits in that.
   * The ring never shrinks: slots allocated at the start stay in use.
   */
  private weighGrowth(choice: { depth: number; reason: string; bottleneckMs: number }): { depth: number; reason: string } {
    const ms = (x: number) => `${x.toFixed(x < 1 ? 3 : 1)} ms`;
    const kept = (why: string) => ({ depth: this.depth, reason: `${choice.reason.replace(/^auto depth \d+/, `auto depth ${this.depth}`)}; ${why}` });
    if (choice.depth < this.depth) return kept(`kept the ${this.depth} slots allocated at the start (up to ${AUTO_START_BYTES_MIB} MiB of ring before measuring)`);
    if (choice.depth === this.depth) return choice;
    const stall = (choice.depth - this.depth) * this.allocMsPerSlot;
    const queued = (this.depth - 1) * choice.bottleneckMs;
    if (stall <= queued) return choice;
    return kept(
      `not grown to ${choice.depth}: allocating ${choice.depth - this.depth} more slots would block the host for ~${ms(stall)} (allocation time measured at setup) ` +
        `with only ~${ms(queued)} of GPU work queued; kept ${this.depth}`,
    );
  }

  /** 'auto': collects warm-up samples and, once complete, asks for the ring to grow. */
  private sample(chunk: ChunkState<I>, sinkMs: number): void {
    if (!this.auto || !chunk.spans || chunk.index === 0 || chunk.index >= AUTO_WARMUP) return;
    const s = chunk.spans;
    this.samples.push({
      upload: s.upload ? s.upload[1] - s.upload[0] : 0,
      compute: s.compute[1] - s.compute[0],
      copy: s.copy[1] - s.copy[0],
      sink: sinkMs,
      wake: chunk.wake,
    });
    if (this.samples.length === AUTO_WARMUP - 1) {
      const perSlot = this.opts.outputBytes + (this.opts.inputBytes ?? 0);
      let free = Number.MAX_SAFE_INTEGER;
      try {
        free = this.device.memoryInfo().free;
      } catch {
        // The next device call will report the problem with its stage and chunk.
      }
      this.pendingDepth = this.weighGrowth(chooseDepth(this.samples, perSlot, free, AUTO_JITTER_MS));
    }
  }
}
