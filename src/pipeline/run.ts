// One run of a pipeline: the ring, the five barriers, the pump that drives three stages, drain,
// errors, stats. How big the ring is chunk by chunk ('auto' depth) is ring-sizer.ts's policy;
// timing events, spans and the timeline are run-timeline.ts's bookkeeping; slots come from
// ring.ts's SlotAllocator.
//
// Three stages, each strictly in chunk order, none ever blocking the event loop:
//   produce:  input → [host fills staging[i] → H2D(n)] → compute(n)
//   copy:     D2H(n), once the host released the slot's previous chunk
//   deliver:  waits for D2H(n)'s event, then hands the pinned slot to the host stage
// One function, pump(), advances all three as far as they can go and returns; whatever unblocks
// a stage (an event completing, the host releasing a slot, an input or a compute promise
// settling) calls pump() again. On a CUDA device (event.whenComplete) with a synchronous sink
// there is no promise per chunk and no async function resumed per chunk: the garbage a promise
// chain leaves per chunk brings young-generation collections, whose pauses can outlast the work
// a ring of small chunks keeps queued on the copy engine, and so idle it.
//
// The ring has `depth` host slots (pinned[j], copied[j]) and deviceSlots <= depth device slots
// (out[i], in[i], staging[i], computed[i], uploaded[i]); chunk n takes one of each (ring.ts).
// The barriers (docs/design.md numbering), for chunk n in device slot i whose previous user is chunk
// q and host slot j whose previous user is chunk p, and which mechanism enforces each:
//   1. compute(n) writes out[i] only after D2H(q) finished reading it. A GPU-side event wait:
//      the compute stream waits on q's copied event, enqueued only after D2H(q) was enqueued (else
//      it would wait on a stale record; a later chunk's record on the same host slot is a later
//      D2H on the same copy stream, so waiting on it is only more cautious); skipped when the
//      host has already seen D2H(q) complete (barrier 4). So the host can queue compute up to
//      depth + deviceSlots chunks ahead, which a compute-bound run needs to ride out a host pause
//      (a GC scavenge). The event wait itself costs the GPU nothing measurable, while keeping
//      barrier 1 by host order would cap the compute queue at depth − 1 chunks.
//   2. D2H(n) waits on computed[i] (compute(n) finished writing out[i]): a GPU-side event wait.
//      computed[i] is recorded again only by compute(q'), q's next user, enqueued after D2H(n).
//   3. D2H(n) is enqueued only after the host released chunk p (pinned[j] is free): host order.
//      So the host enqueues copies up to `depth` chunks ahead of what it released: a copy-bound
//      run rides out a host pause on those, while the device ring stays small (auto-depth.ts).
//   4. The host reads pinned[j] only after copied[j]'s completion() for D2H(n): host observation.
//      The device's waiter polls from the event loop while completions keep coming (see
//      core/completion/worker-waiter.ts), so the host turns a finished D2H(p) into an enqueued
//      D2H(n) within microseconds; a deeper ring hides what latency is left.
//   5. compute(n) waits on uploaded[i] (H2D(n)); H2D(n) waits on computed[i] (compute(q) no
//      longer reads in[i]): GPU-side event waits; and the host refills staging[i] only after
//      H2D(q) completed: host observation.
// Keyed on the previous user rather than n - depth, so the ring can be resized once ('auto').
// Compute may run ahead of a slow host stage by up to depth + deviceSlots chunks, never more.
import type { DeviceCore, PinnedBuffer, Stream } from '../core/types.js';
import { RUN_STREAM_LABELS } from '../core/pool.js';
import { CudaError } from '../cuda/errors.js';
import { AbortError, UsageError, abortReason } from '../util/errors.js';
import { AsyncQueue, Deferred, Fifo } from './async-tools.js';
import { PipelineError } from './errors.js';
import { openInput, type InputCursor } from './input.js';
import {
  ResourceBag,
  ringFences,
  slotAllocMs,
  slotAllocator,
  type DeviceSlot,
  type HostSlot,
  type SlotAllocator,
} from './ring.js';
import { AUTO_START_DEPTH } from './auto-depth.js';
import { RingSizer } from './ring-sizer.js';
import { RunTimeline } from './run-timeline.js';
import { startSink } from './sink-call.js';
import { buildStats } from './stats.js';
import type { MeasuredSpans, TimingSet } from './timing.js';
import type { ComputeChunk, OutputChunk, PipelineInput, PipelineOptions, PipelineStats, StageName } from './types.js';

/** Longest stretch the pump may run without letting the event loop turn (ms). */
const STARVE_MS = 4;

/** The least an abort waits for callbacks already running before it ends the run without them (ms). */
const ABORT_GRACE_MIN_MS = 200;

// Where the chunk being produced stands (the producer's state between pump calls).
const P_SERIAL = 0; // took its input; serial mode waits for the previous chunk's release
const P_UPLOAD = 1; // barrier 5 (host side), then fill the staging buffer
const P_UPLOAD_ENQUEUE = 2; // staging filled: enqueue H2D
const P_BARRIER_1 = 3; // barrier 1, then call compute()
const P_COMPUTED = 4; // compute() returned (or its promise settled): record, hand to the copy stage

interface ChunkState<I> {
  readonly index: number;
  readonly item: I;
  /** The host slot: pinned[j], copied[j]. */
  readonly slot: HostSlot;
  /** The device slot: out[i], in[i], staging[i], computed[i], uploaded[i]. */
  readonly dev: DeviceSlot;
  /** The host slot's previous user (barrier 3); dropped once D2H(n) is enqueued so chains do not pile up. */
  prev: ChunkState<I> | null;
  /** The device slot's previous user (barriers 1, 5); dropped once compute(n) is enqueued. */
  devPrev: ChunkState<I> | null;
  /** D2H(n) is enqueued (copied[i] holds its record). */
  copyEnqueued: boolean;
  /** The host stage let go of pinned[i] (barrier 3 for the slot's next user). */
  released: boolean;
  /** D2H(n) was seen complete and its spans read (done once, even if the permit waits). */
  seenDone: boolean;
  timing: TimingSet | null;
  enqueuedCompute: number;
  enqueuedCopy: number;
  waitFrom: number;
  spans: MeasuredSpans | null;
  wake: number;
  uploadBytes: number;
  // Host stage.
  hostStart: number;
  timedOut: boolean;
  /** Called once the host stage settles (a timed-out sink whose slot teardown left open). */
  onSettled: (() => void) | null;
}

export type HostStageKind = { kind: 'sink' } | { kind: 'pull'; queue: AsyncQueue<OutputChunk<never>> };

export class PipelineRun<I> {
  readonly label: string;
  private readonly serial: boolean;
  private readonly uploads: boolean;
  private stopFlag = false;
  /** Streams, timing events: closed at the end of every run. */
  private readonly bag = new ResourceBag();
  /** The slots' buffers and events, from the device's pool: back to it at the end of the run. */
  private readonly ringBag = new ResourceBag();
  private error: PipelineError | null = null;
  private aborted: { reason: unknown } | null = null;
  private consumerLeft = false;
  readonly consumerDone = new Deferred();

  private input!: InputCursor<I>;
  private computeStream!: Stream;
  private copyStream!: Stream;
  private uploadStream!: Stream;
  private hostSlots: HostSlot[] = [];
  private hostUsers: (ChunkState<I> | null)[] = [];
  private devSlots: DeviceSlot[] = [];
  private devUsers: (ChunkState<I> | null)[] = [];
  /** The ring's size, chunk by chunk ('auto' resizes it once). */
  private readonly sizer: RingSizer;
  /** Where the ring's slots come from (set at setup: a kept ring's bag, or a new one). */
  private alloc!: SlotAllocator;
  /** Timing events, spans, busy times and the timeline (set at setup). */
  private times!: RunTimeline;

  // The pump's state.
  private pumping = false;
  private again = false;
  private yielding = false;
  private readonly finished = new Deferred();
  private inputDone = false;
  private nextIndex = 0;
  /** The chunk being produced, and where it stands (P_*). */
  private cur: ChunkState<I> | null = null;
  private curItem: I | undefined;
  private hasItem = false;
  private phase = P_SERIAL;
  /** The producer waits for a callback (input, barrier 5's event, fill, compute promise). */
  private producerWaiting = false;
  /** ...one that must settle before teardown frees what it may touch (fill, compute). */
  private producerMustSettle = false;
  /** Set by teardown when an abort left a fill or compute() unsettled: frees what it may touch. */
  private onProducerSettled: (() => void) | null = null;
  /** What callbacks that had not settled when the run was aborted still hold (for the error). */
  private readonly held: string[] = [];
  /** Resolved once an aborted run stops waiting for its callbacks. */
  private readonly abortDeadline = new Deferred();
  private abortTimer: NodeJS.Timeout | undefined;
  /** The longest a sink call took so far (ms): how long an abort waits for running callbacks. */
  private longestSinkMs = 0;
  /** The delivery stage waits for the head chunk's copied[i] completion. */
  private deliverWaiting = false;
  /** completion() resolved for the head chunk's D2H (trusted as is: no second query). */
  private headCopied = false;
  /** The producer's last wait resolved (barrier 5's completion, trusted likewise). */
  private producerResumed = false;
  private readonly copyQ = new Fifo<ChunkState<I>>();
  private readonly deliverQ = new Fifo<ChunkState<I>>();
  private readonly hostLimit: number;
  /** Build hostAccess() labels only for a device that reads them (three strings per chunk). */
  private readonly hostLabels: boolean;
  private hostActive = 0;
  private readonly inHost = new Set<ChunkState<I>>();
  private hostIdle: Deferred | null = null;
  private lastChunk: ChunkState<I> | null = null;
  private readonly dataViews = new Map<HostSlot, Uint8Array>();

  /** The clock host-side times are stamped with (DeviceCore.hostNow, else performance.now()). */
  private readonly now: () => number;
  private t0 = 0;
  private lastHostEnd = 0;
  private delivered = 0;
  /** Chunks whose D2H completion the host has seen (all their GPU work is done). */
  private seen = 0;
  private bytesIn = 0;
  private sinkBusy = 0;

  constructor(
    private readonly device: DeviceCore,
    private readonly opts: PipelineOptions<I>,
    private readonly inputs: PipelineInput<I>,
    private readonly signal: AbortSignal | undefined,
    private readonly host: HostStageKind,
  ) {
    this.label = opts.label ?? 'pipeline';
    this.serial = opts.mode === 'serial';
    this.uploads = (opts.inputBytes ?? 0) > 0;
    this.now = device.hostNow ?? (() => performance.now());
    this.sizer = new RingSizer(opts as Readonly<PipelineOptions<unknown>>, device.pool ?? null);
    this.hostLimit = host.kind === 'pull' ? Number.MAX_SAFE_INTEGER : (opts.sinkConcurrency ?? 1);
    this.hostLabels = device.readsHostAccessLabels === true;
  }

  get stopped(): boolean {
    return this.stopFlag;
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
    // Callbacks already running get about a chunk's time to settle; then the run ends without
    // them and teardown leaves them what they may still touch (see teardown).
    const grace = Math.max(ABORT_GRACE_MIN_MS, 2 * this.longestSinkMs);
    this.abortTimer = setTimeout(this.abortDeadline.resolve, grace);
    this.stop();
  }

  async execute(): Promise<PipelineStats> {
    if (this.signal?.aborted) throw abortReason(this.signal, 'the pipeline run was aborted');
    this.input = openInput(this.inputs);
    try {
      this.setup();
    } catch (err) {
      // What was allocated before the failure is freed; nothing was enqueued on it yet.
      this.bag.close();
      this.ringBag.close();
      this.input.close();
      throw new PipelineError('setup', 0, err, this.label);
    }
    const onAbort = () => this.abort(abortReason(this.signal!, 'the pipeline run was aborted'));
    this.signal?.addEventListener('abort', onAbort, { once: true });
    this.t0 = this.now();
    this.lastHostEnd = this.t0;
    // The loop's last turn is now, not when the run was constructed: setup() pins the ring
    // (milliseconds at 64 MiB), and a stale mark would make the first pump yield after chunk 0's
    // compute, leaving its D2H unqueued.
    this.lastTurn = performance.now();
    try {
      this.pump();
      await Promise.race([this.finished.promise.then(() => this.waitHostStages()), this.abortDeadline.promise]);
    } finally {
      clearTimeout(this.abortTimer);
      this.signal?.removeEventListener('abort', onAbort);
      await this.teardown();
    }
    if (this.error) throw this.error;
    if (this.aborted)
      throw this.held.length > 0 ? heldAbort(this.aborted.reason, this.label, this.held) : this.aborted.reason;
    return buildStats({
      mode: this.serial ? 'serial' : 'overlap',
      depth: this.sizer.depth,
      deviceSlots: this.sizer.deviceSlots,
      chunks: this.delivered,
      bytesOut: this.delivered * this.opts.outputBytes,
      bytesIn: this.bytesIn,
      wallMs: this.lastHostEnd - this.t0,
      uploads: this.uploads,
      traced: !!this.opts.trace,
      busy: this.times.busy,
      sinkBusy: this.sinkBusy,
      timeline: this.times.timeline,
      depthReason: this.sizer.finalReason(this.delivered),
    });
  }

  // ---- setup / teardown ---------------------------------------------------------------------

  private setup(): void {
    const d = this.device;
    const p = this.opts.priorities ?? {};
    const L = RUN_STREAM_LABELS;
    if (this.serial) {
      const s = this.bag.stream(d, { label: L.serial, priority: p.compute });
      this.computeStream = this.copyStream = this.uploadStream = s;
    } else {
      this.computeStream = this.bag.stream(d, { label: L.compute, priority: p.compute });
      this.copyStream = this.bag.stream(d, { label: L.copy, priority: p.copy });
      this.uploadStream = this.uploads
        ? this.bag.stream(d, { label: L.upload, priority: p.upload })
        : this.computeStream;
    }
    const sizer = this.sizer;
    sizer.start(() => this.freeBytes(), typeof this.inputs === 'number' ? this.inputs : null);
    this.alloc = slotAllocator(d, this.ringBag, this.opts.outputBytes, this.opts.inputBytes ?? 0, this.label, {
      compute: this.computeStream,
      upload: this.uploadStream,
    });
    // Double buffering first (a failure there fails the set-up). A fixed depth takes the rest
    // here too, so a ring that does not fit fails before any work. 'auto' may start above double
    // buffering, at what an earlier run of the size decided: it takes those slots on their first
    // use (hostSlotFor), while the GPU works on the chunks before, so a short job's set-up costs what
    // double buffering's does; a slot that no longer fits (memory taken meanwhile) ends the ring there.
    const t = performance.now();
    const setUpDepth = sizer.auto ? AUTO_START_DEPTH : sizer.depth;
    this.growTo(Math.min(setUpDepth, sizer.depth), Math.min(setUpDepth, sizer.deviceSlots));
    // What a new slot costs is the pool's measure (slots taken from it cost next to nothing); a
    // device without a pool has only what its slots took here.
    const slots = this.devSlots.length + this.hostSlots.length;
    sizer.allocMsPerHostSlot = sizer.allocMsPerDeviceSlot = (performance.now() - t) / slots;
    const est = d.pool ? slotAllocMs(d.pool, this.opts.outputBytes, this.opts.inputBytes ?? 0) : null;
    if (est) ({ host: sizer.allocMsPerHostSlot, device: sizer.allocMsPerDeviceSlot } = est);
    const trace = !!this.opts.trace;
    this.times = new RunTimeline(d, this.bag, this.computeStream, this.uploads, this.label, trace, trace || sizer.auto);
  }

  /** The device's free memory, for 'auto' (unknown: as good as unlimited; the next device call reports the problem). */
  private freeBytes(): number {
    try {
      return this.device.memoryInfo().free;
    } catch {
      return Number.MAX_SAFE_INTEGER;
    }
  }

  private addDeviceSlot(): void {
    this.devSlots.push(this.alloc.device(this.devSlots.length));
    this.devUsers.push(null);
  }

  private addHostSlot(): void {
    this.hostSlots.push(this.alloc.host(this.hostSlots.length));
    this.hostUsers.push(null);
  }

  /**
   * The host slot chunk n takes. In the ring's first lap 'auto' takes a slot of its start size on
   * first use; one it cannot allocate ends that half of the ring at the slots it has
   * (RingSizer.endHalf), and chunk n takes the slot the smaller ring maps it to.
   */
  private hostSlotFor(n: number): HostSlot {
    if (this.sizer.hostIndex(n) === this.hostSlots.length) {
      try {
        this.addHostSlot();
      } catch (err) {
        this.sizer.endHalf('host', this.hostSlots.length, err);
      }
    }
    return this.hostSlots[this.sizer.hostIndex(n)]!;
  }

  /** The device slot chunk n takes, likewise (after its host slot: a shorter host half caps it). */
  private deviceSlotFor(n: number): DeviceSlot {
    if (this.sizer.deviceIndex(n) === this.devSlots.length) {
      try {
        this.addDeviceSlot();
      } catch (err) {
        this.sizer.endHalf('device', this.devSlots.length, err);
      }
    }
    return this.devSlots[this.sizer.deviceIndex(n)]!;
  }

  /** No host stage left that the run must wait for (a timed-out sink may never settle). */
  private hostQuiet(): boolean {
    if (this.host.kind === 'pull') return this.inHost.size === 0;
    for (const c of this.inHost) if (!c.timedOut) return false;
    return true;
  }

  private async waitHostStages(): Promise<void> {
    if (this.hostQuiet()) return;
    this.hostIdle = new Deferred();
    // The pull consumer holds the last chunks until it releases them or leaves the loop.
    if (this.host.kind === 'pull') await Promise.race([this.hostIdle.promise, this.consumerDone.promise]);
    else await this.hostIdle.promise;
  }

  private async teardown(): Promise<void> {
    this.input.close();
    // An abort does not wait for a fill or compute() promise: until it settles it may still
    // write its device slot or enqueue on the compute and upload streams, so those stay open and
    // are closed (after the streams drain) when it does.
    if (this.producerMustSettle && this.cur) {
      const chunk = this.cur;
      const dev = chunk.dev;
      const keep = [dev.out, dev.in, dev.staging, dev.computed, dev.uploaded].filter((r) => r !== null);
      for (const r of keep) this.ringBag.detach(r);
      const streams = [...new Set([this.computeStream, this.uploadStream])];
      for (const st of streams) this.bag.detach(st);
      const what = this.phase === P_UPLOAD_ENQUEUE ? 'the input fill' : 'compute()';
      this.held.push(
        `${what} of chunk ${chunk.index} holds device slot ${dev.index} and the ${streams.length > 1 ? 'compute and upload streams' : 'compute stream'}`,
      );
      this.onProducerSettled = () => {
        void Promise.allSettled(streams.map((st) => st.synchronize())).then(() => {
          for (const r of [...streams, ...keep]) {
            try {
              r.close();
            } catch {
              // After a sticky fault closing may fail; the handles are gone either way.
            }
          }
        });
      };
    }
    // Let the GPU finish what was enqueued before freeing what it reads and writes. A run that saw
    // the copy of every chunk it enqueued complete has nothing left on the GPU: D2H(n) waited on
    // compute(n), compute(n) on H2D(n), each stream runs in order, and a chunk's copied event is
    // the last thing the run records for it. Then there is nothing to wait for or fence.
    const streams = new Set([this.computeStream, this.copyStream, this.uploadStream].filter(Boolean));
    const idle = !this.error && !this.aborted && this.cur === null && this.seen === this.nextIndex;
    if (!idle) await Promise.allSettled([...streams].map((s) => s.synchronize()));
    // A timed-out sink may still read its slot: free that pinned buffer once it settles. (A pull
    // consumer that left the loop gets no such grace: chunk.data ends with the iteration.)
    if (this.host.kind === 'sink') {
      for (const c of this.inHost) {
        if (!c.timedOut && !this.aborted) continue;
        const pinned = c.slot.pinned;
        this.ringBag.detach(pinned);
        c.onSettled = () => pinned.close();
        if (!c.timedOut) this.held.push(`the sink of chunk ${c.index} holds pinned slot ${c.slot.index}`);
      }
    }
    // The ring and the streams go back to the device's pool, fenced by their streams' last work
    // (fence and hand-back in one synchronous step, so no other run on the device sees the fences
    // unowned), unless the context is lost: then nothing in them can be used again.
    const lost = this.error?.cause instanceof CudaError && this.error.cause.sticky;
    const fences = lost || idle ? [] : ringFences(this.device, streams);
    this.ringBag.close(fences, lost);
    this.bag.close(fences, lost);
  }

  private stop(): void {
    if (this.stopFlag) return;
    this.stopFlag = true;
    if (this.host.kind === 'pull') this.host.queue.close();
    this.checkFinished();
  }

  private fail(stage: StageName, chunk: number, cause: unknown): void {
    // Sinks run several chunks at once (sinkConcurrency): when more than one fails, the run
    // reports the earliest chunk, whatever order the failures arrived in, so the error's "the
    // chunks after it were not delivered" holds and the output is intact up to that chunk
    // (a full disk fails chunks 0 and 1 both, and either write may come back first).
    if (
      this.error &&
      stage === 'sink' &&
      this.error.stage === 'sink' &&
      chunk < this.error.chunk &&
      !this.aborted &&
      !this.consumerLeft
    ) {
      this.error = new PipelineError(stage, chunk, cause, this.label);
      return;
    }
    if (this.error || this.aborted || this.consumerLeft) return;
    // A sticky fault surfaces at whatever call comes next, often a later chunk's enqueue; the
    // work that faulted is at or after the first chunk whose GPU work was not seen complete.
    if (cause instanceof CudaError && cause.sticky) chunk = Math.min(chunk, this.seen);
    this.error = new PipelineError(stage, chunk, cause, this.label);
    this.stop();
  }

  /** Resolves `finished` once the stages have nothing left to do (or stopped and may let go). */
  private checkFinished(): void {
    if (this.finished.settled) return;
    if (this.stopFlag) {
      // A fill or compute() promise still running may touch the ring: teardown waits for it.
      if (this.producerMustSettle) return;
    } else if (!(
      this.inputDone &&
      this.cur === null &&
      !this.hasItem &&
      !this.producerWaiting &&
      this.copyQ.size === 0 &&
      this.deliverQ.size === 0
    )) {
      return;
    }
    // Pull style: the consumer's loop ends once it has taken the last chunk.
    if (this.host.kind === 'pull') this.host.queue.close();
    this.finished.resolve();
  }

  // ---- the ring ----------------------------------------------------------------------------------

  /**
   * Allocates slots up to `depth` host and `deviceSlots` device slots: at set-up, and before
   * producing chunk n when 'auto' grows the ring (RingSizer.beforeChunk).
   */
  private readonly growTo = (depth: number, deviceSlots: number): void => {
    while (this.devSlots.length < deviceSlots) this.addDeviceSlot();
    while (this.hostSlots.length < depth) this.addHostSlot();
  };

  // ---- the pump ---------------------------------------------------------------------------------

  // When every stage completes at once (the fake device, a sink that settles synchronously) the
  // pump would be re-entered from promise reactions for a whole run, and timers, I/O and signals
  // (AbortSignal.timeout, SIGINT) never get a turn. A marker immediate notes each turn the event
  // loop does take; after STARVE_MS without one, the pump yields once.
  private lastTurn = performance.now();
  private turnMarked = false;
  private readonly markTurn = (): void => {
    this.turnMarked = false;
    this.lastTurn = performance.now();
  };

  private starving(): boolean {
    const now = performance.now();
    // At most one marker per millisecond: an immediate is garbage, and one per chunk adds up.
    if (!this.turnMarked && now - this.lastTurn > 1) {
      this.turnMarked = true;
      setImmediate(this.markTurn);
    }
    return now - this.lastTurn > STARVE_MS;
  }

  private readonly resume = (): void => {
    this.yielding = false;
    this.pump();
  };

  /** Advances every stage as far as it can go; re-entrant calls just ask for another round. */
  private readonly pump = (): void => {
    if (this.pumping) {
      this.again = true;
      return;
    }
    if (this.yielding) return;
    this.pumping = true;
    try {
      for (;;) {
        this.again = false;
        if (this.stopFlag) break;
        const delivered = this.stepDeliver();
        const copied = this.stepCopy();
        const produced = this.stepProduce();
        if (!delivered && !copied && !produced && !this.again) break;
        if (this.starving()) {
          this.yielding = true;
          setImmediate(this.resume);
          break;
        }
      }
    } finally {
      this.pumping = false;
    }
    this.checkFinished();
  };

  // ---- stage 1: input, upload, compute ------------------------------------------------------

  private readonly onInput = (r: IteratorResult<I>): void => {
    this.producerWaiting = false;
    if (!this.stopFlag) this.takeInput(r);
    this.pump();
  };

  private readonly onInputError = (err: unknown): void => {
    this.producerWaiting = false;
    this.fail('input', this.nextIndex, err);
  };

  /** The producer's callback settled (barrier 5's event, fill, compute): carry on. */
  private readonly onProducerStep = (): void => {
    if (this.producerSettledLate()) return;
    this.producerWaiting = false;
    this.producerResumed = true;
    this.producerMustSettle = false;
    this.checkFinished();
    this.pump();
  };

  private readonly onProducerError = (err: unknown): void => {
    if (this.producerSettledLate()) return;
    this.producerWaiting = false;
    this.producerMustSettle = false;
    this.fail(
      this.phase === P_UPLOAD || this.phase === P_UPLOAD_ENQUEUE ? 'upload' : 'compute',
      this.cur?.index ?? this.nextIndex,
      err,
    );
    this.checkFinished();
  };

  /** A fill or compute() the run stopped waiting for settled after teardown: free what it held. */
  private producerSettledLate(): boolean {
    const f = this.onProducerSettled;
    if (!f) return false;
    this.onProducerSettled = null;
    f();
    return true;
  }

  private takeInput(r: IteratorResult<I>): void {
    if (r.done) {
      this.inputDone = true;
      return;
    }
    this.curItem = r.value;
    this.hasItem = true;
    this.phase = P_SERIAL;
  }

  /**
   * Takes the producer as far as it can go with one chunk; true if anything moved. One chunk per
   * step, so the pump enqueues D2H(n) before compute(n + 1), as a hand-written loop does: the copy
   * engine starts after the first compute, not after every compute the device ring lets the host
   * queue (a job's whole length, when the ring holds all its chunks).
   */
  private stepProduce(): boolean {
    if (this.stopFlag || this.producerWaiting || this.inputDone) return false;
    if (!this.hasItem) {
      const nextSync = this.input.nextSync;
      if (!nextSync) {
        this.producerWaiting = true;
        this.input.next().then(this.onInput, this.onInputError);
        return false;
      }
      let r: IteratorResult<I>;
      try {
        r = nextSync();
      } catch (err) {
        this.fail('input', this.nextIndex, err);
        return false;
      }
      this.takeInput(r);
      if (this.inputDone) return true;
    }
    const before = this.phase;
    const done = this.advanceProducer();
    return this.phase !== before || done;
  }

  /** Runs the current chunk through its phases; true once it was handed to the copy stage. */
  private advanceProducer(): boolean {
    const n = this.nextIndex;
    let stage: StageName = 'compute';
    const resumed = this.producerResumed;
    this.producerResumed = false;
    try {
      if (this.phase === P_SERIAL) {
        // Serial: the naive baseline finishes chunk n - 1 entirely before starting chunk n.
        if (this.serial && this.lastChunk && !this.lastChunk.released) return false;
        this.sizer.beforeChunk(n, this.growTo);
        const slot = this.hostSlotFor(n);
        const dev = this.deviceSlotFor(n);
        const t = this.opts.trace || this.sizer.wantsTiming(n) ? this.times.acquire() : null;
        this.cur = {
          index: n,
          item: this.curItem as I,
          slot,
          dev,
          prev: this.hostUsers[slot.index]!,
          devPrev: this.devUsers[dev.index]!,
          copyEnqueued: false,
          released: false,
          seenDone: false,
          timing: t,
          enqueuedCompute: 0,
          enqueuedCopy: 0,
          waitFrom: 0,
          spans: null,
          wake: 0,
          uploadBytes: 0,
          hostStart: 0,
          timedOut: false,
          onSettled: null,
        };
        this.curItem = undefined;
        this.phase = this.uploads ? P_UPLOAD : P_BARRIER_1;
      }
      const chunk = this.cur!;
      const dev = chunk.dev;
      const devPrev = chunk.devPrev;
      if (this.phase === P_UPLOAD) {
        stage = 'upload';
        // Barrier 5, host side: H2D(q) must have finished reading staging[i].
        if (devPrev && !resumed && !dev.uploaded!.isDone()) return this.waitProducer(dev.uploaded!.completion(), false);
        this.device.hostAccess(
          dev.staging!,
          'write',
          this.hostLabels ? `${this.label}: host fills input of chunk ${n}` : undefined,
        );
        this.phase = P_UPLOAD_ENQUEUE;
        const filled = this.fill(chunk, dev.staging!);
        if (filled) return this.waitProducer(filled, true);
      }
      if (this.phase === P_UPLOAD_ENQUEUE) {
        stage = 'upload';
        const up = this.uploadStream;
        // Barrier 5: compute(q) no longer reads in[i].
        if (devPrev) up.waitEvent(dev.computed);
        chunk.timing?.uploadStart!.record(up);
        if (chunk.uploadBytes > 0) this.device.copy(up, dev.in!, dev.staging!, { bytes: chunk.uploadBytes, chunk: n });
        chunk.timing?.uploadEnd!.record(up);
        dev.uploaded!.record(up);
        this.bytesIn += chunk.uploadBytes;
        this.phase = P_BARRIER_1;
      }
      if (this.phase === P_BARRIER_1) {
        stage = 'compute';
        const cs = this.computeStream;
        if (devPrev && this.seen <= devPrev.index) {
          // Barrier 1 on the GPU: q's copied event must hold D2H(q)'s record before compute(n)
          // waits on it (the copy stage pumps once it enqueued D2H(q)).
          if (!devPrev.copyEnqueued) return false;
          cs.waitEvent(devPrev.slot.copied);
        }
        if (this.uploads) cs.waitEvent(dev.uploaded!); // barrier 5
        chunk.devPrev = null;
        chunk.timing?.computeStart.record(cs);
        chunk.enqueuedCompute = this.now();
        this.phase = P_COMPUTED;
        const view: ComputeChunk<I> = {
          index: n,
          slot: dev.index,
          stream: cs,
          output: dev.out,
          input: dev.in,
          item: chunk.item,
        };
        const ret = this.opts.compute(view);
        if (ret && typeof (ret as Promise<void>).then === 'function')
          return this.waitProducer(ret as Promise<void>, true);
      }
      // P_COMPUTED
      const cs = this.computeStream;
      chunk.timing?.computeEnd.record(cs);
      dev.computed.record(cs);
      this.devUsers[dev.index] = chunk;
      this.hostUsers[chunk.slot.index] = chunk;
      this.lastChunk = chunk;
      this.copyQ.push(chunk);
      this.cur = null;
      this.hasItem = false;
      this.nextIndex = n + 1;
      return true;
    } catch (err) {
      this.fail(stage, n, err);
      return false;
    }
  }

  /** Parks the producer on `p` (false: not done with the chunk yet). */
  private waitProducer(p: PromiseLike<unknown>, mustSettle: boolean): false {
    this.producerWaiting = true;
    this.producerMustSettle = mustSettle;
    Promise.resolve(p).then(this.onProducerStep, this.onProducerError);
    return false;
  }

  /** Fills staging[i] from the chunk's item; a promise when the item's filler is async. */
  private fill(chunk: ChunkState<I>, staging: PinnedBuffer): Promise<unknown> | null {
    const size = this.opts.inputBytes!;
    const item = chunk.item;
    const n = chunk.index;
    if (typeof item === 'function') {
      chunk.uploadBytes = size;
      const r = (item as (s: Uint8Array, i: number) => void | Promise<void>)(staging.bytes, n);
      return r && typeof (r as Promise<void>).then === 'function' ? (r as Promise<void>) : null;
    }
    if (ArrayBuffer.isView(item)) {
      const src = new Uint8Array(item.buffer, item.byteOffset, item.byteLength);
      if (src.byteLength > size)
        throw new UsageError(
          `input of chunk ${n} has ${src.byteLength} bytes but inputBytes is ${size}; raise inputBytes or split the input`,
        );
      staging.bytes.set(src);
      chunk.uploadBytes = src.byteLength;
      return null;
    }
    throw new UsageError(
      'with inputBytes set, each input must be bytes (an ArrayBufferView) or a function (staging, index) ' +
        `that fills the staging view; chunk ${n} got ${typeof item}`,
    );
  }

  // ---- stage 2: D2H -----------------------------------------------------------------------------

  private stepCopy(): boolean {
    let moved = false;
    let chunk: ChunkState<I> | undefined;
    while (!this.stopFlag && (chunk = this.copyQ.peek()) !== undefined) {
      // Barrier 3: pinned[i] is free only once the host released the slot's previous chunk.
      if (chunk.prev && !chunk.prev.released) break;
      this.copyQ.shift();
      try {
        const slot = chunk.slot;
        const cp = this.copyStream;
        cp.waitEvent(chunk.dev.computed); // barrier 2
        chunk.timing?.copyStart.record(cp);
        chunk.enqueuedCopy = this.now();
        slot.copyTag.chunk = chunk.index;
        this.device.copy(cp, slot.pinned, chunk.dev.out, slot.copyTag);
        chunk.timing?.copyEnd.record(cp);
        slot.copied.record(cp);
      } catch (err) {
        this.fail('copy', chunk.index, err);
        return moved;
      }
      chunk.prev = null;
      chunk.copyEnqueued = true;
      this.deliverQ.push(chunk);
      moved = true;
    }
    return moved;
  }

  // ---- stage 3: delivery to the host stage ------------------------------------------------------

  private readonly onCopied = (): void => {
    this.deliverWaiting = false;
    this.headCopied = true;
    this.pump();
  };

  private readonly onCopiedError = (err: unknown): void => {
    this.deliverWaiting = false;
    this.fail('copy', this.deliverQ.peek()?.index ?? this.seen, err);
  };

  private stepDeliver(): boolean {
    let moved = false;
    let chunk: ChunkState<I> | undefined;
    while (!this.stopFlag && !this.deliverWaiting && (chunk = this.deliverQ.peek()) !== undefined) {
      if (!chunk.seenDone) {
        if (chunk.waitFrom === 0) chunk.waitFrom = this.now();
        const copied = chunk.slot.copied;
        const resolved = this.headCopied;
        this.headCopied = false;
        try {
          if (!resolved && !copied.isDone()) {
            // Barrier 4: wait for D2H(n); onCopied pumps again.
            this.deliverWaiting = true;
            if (copied.whenComplete) copied.whenComplete(this.onCopied, this.onCopiedError);
            else copied.completion().then(this.onCopied, this.onCopiedError);
            return moved;
          }
        } catch (err) {
          this.fail('copy', chunk.index, err);
          return moved;
        }
        chunk.seenDone = true;
        this.seen = chunk.index + 1;
        moved = true;
        if (chunk.timing) {
          try {
            this.times.read(chunk, chunk.timing);
          } catch (err) {
            this.fail('copy', chunk.index, err);
            return moved;
          }
        }
      }
      if (this.hostActive >= this.hostLimit) break; // a release pumps again
      this.deliverQ.shift();
      this.hostActive++;
      moved = true;
      this.startHostStage(chunk);
    }
    return moved;
  }

  private dataOf(slot: HostSlot): Uint8Array {
    let v = this.dataViews.get(slot);
    if (!v) this.dataViews.set(slot, (v = slot.pinned.bytes));
    return v;
  }

  private startHostStage(chunk: ChunkState<I>): void {
    const n = chunk.index;
    const slot = chunk.slot;
    this.inHost.add(chunk);
    try {
      this.device.hostAccess(slot.pinned, 'read', this.hostLabels ? `${this.label}: host takes chunk ${n}` : undefined);
    } catch (err) {
      this.settle(chunk);
      this.fail('sink', n, err);
      return;
    }
    chunk.hostStart = this.now();
    const sink = this.opts.sink;
    if (this.host.kind === 'sink' && !sink) {
      this.release(chunk);
      return;
    }
    const out: OutputChunk<I> = {
      index: n,
      slot: slot.index,
      item: chunk.item,
      data: this.dataOf(slot),
      pinned: slot.pinned,
      release: () => this.release(chunk),
    };
    if (this.host.kind === 'pull') {
      // Pull style counts a chunk delivered when handed over: the last ones may never be released.
      this.delivered++;
      this.host.queue.push(out as OutputChunk<never>);
      return;
    }
    let pending: Promise<void> | null;
    try {
      pending = startSink(sink!, out, this.opts.sinkTimeoutMs, (err) => {
        chunk.timedOut = true;
        this.fail('sink', n, err);
        this.checkHostIdle();
      });
    } catch (err) {
      this.settle(chunk);
      this.fail('sink', n, err);
      return;
    }
    if (pending === null) {
      this.release(chunk);
      return;
    }
    pending.then(
      () => {
        if (chunk.timedOut) this.settle(chunk);
        else this.release(chunk);
      },
      (err: unknown) => {
        this.settle(chunk);
        this.fail('sink', n, err);
      },
    );
  }

  /** The host stage of `chunk` is over (released, failed or a timed-out sink settling late). */
  private settle(chunk: ChunkState<I>): void {
    if (!this.inHost.delete(chunk)) return;
    if (chunk.onSettled) {
      const f = chunk.onSettled;
      chunk.onSettled = null;
      f();
    }
    this.checkHostIdle();
  }

  private checkHostIdle(): void {
    if (this.hostIdle && !this.hostIdle.settled && this.hostQuiet()) this.hostIdle.resolve();
  }

  /** The host let go of the chunk's pinned slot: the sink settled, or the consumer released it. */
  private release(chunk: ChunkState<I>): void {
    if (chunk.released || !this.inHost.has(chunk)) return;
    const end = this.now();
    this.sinkBusy += end - chunk.hostStart;
    if (end - chunk.hostStart > this.longestSinkMs) this.longestSinkMs = end - chunk.hostStart;
    if (end > this.lastHostEnd) this.lastHostEnd = end;
    this.settle(chunk);
    if (this.stopFlag && !this.consumerLeft && this.host.kind === 'pull') return;
    const n = chunk.index;
    const slot = chunk.slot;
    try {
      if (!slot.pinned.closed)
        this.device.hostAccess(
          slot.pinned,
          'read',
          this.hostLabels ? `${this.label}: host releases chunk ${n}` : undefined,
        );
    } catch (err) {
      this.fail('sink', n, err);
    }
    if (this.host.kind === 'sink') this.delivered++;
    this.times.record(chunk, chunk.hostStart, end);
    this.sizer.sample(chunk.index, chunk.spans, end - chunk.hostStart, chunk.wake, () => this.freeBytes());
    chunk.released = true;
    this.hostActive--;
    this.pump();
  }
}

/**
 * The error of a run aborted while callbacks it had started were still running: an AbortError
 * whose cause is the abort's reason and whose message says what those callbacks still hold (it
 * is freed when each settles; until then that memory stays allocated).
 */
function heldAbort(reason: unknown, label: string, held: readonly string[]): Error {
  const why = reason instanceof Error ? reason.message : String(reason);
  return new AbortError(
    `${label}: aborted (${why}) while callbacks were still running: ${held.join('; ')}; each is freed when its callback settles`,
    { cause: reason },
  );
}
