// How big a run's ring is, chunk by chunk: a fixed depth, or 'auto' (auto-depth.ts), which starts
// small (or from what an earlier run of the size decided), times the first chunks and then
// resizes both halves of the ring once.
// The pump asks three things of it: which slot chunk n takes (hostIndex, deviceIndex), whether
// to time chunk n (wantsTiming), and, before producing chunk n, whether the ring changes size
// (beforeChunk, which calls back to allocate the slots it adds). It is told each released
// chunk's measured stage times (sample). It allocates nothing itself.
import {
  AUTO_JITTER_MS,
  AUTO_START_DEPTH,
  AUTO_WARMUP,
  autoStartSize,
  chooseDepth,
  chunkPeriodMs,
  type DepthChoice,
  type FreeDeviceBytes,
  type StageSample,
  type StartSize,
} from './auto-depth.js';
import type { MeasuredSpans } from './timing.js';
import type { PipelineOptions } from './types.js';

/** What the sizer asks of the device's memory pool. */
export interface RingPool {
  /** Buffers of that kind and size the pool holds ready: taking them costs next to nothing. */
  ready(kind: 'pinned' | 'device', bytes: number): number;
}

/**
 * Per pool (so per device), per slot size: the ring the latest measured 'auto' run decided on.
 * The next run of that size starts there, so a run too short to repay growing mid-run still
 * leaves the ring its measurement asked for to the runs after it (a service's jobs).
 */
const decided = new WeakMap<RingPool, Map<string, StartSize>>();

/** What 'auto' decided, until both halves switched to it (allocated: the slots exist). */
interface PendingSize {
  depth: number;
  deviceSlots: number;
  reason: string;
  allocated?: boolean;
}

export class RingSizer {
  readonly auto: boolean;
  /** Host slots in use (the ring's depth), and device slots (<= depth). */
  depth: number;
  deviceSlots: number;
  /** Host time one slot's allocation took at setup, host and device half ('auto' weighs growing mid-run against it). */
  allocMsPerHostSlot = 0;
  allocMsPerDeviceSlot = 0;
  private startDepth: number;
  private startDeviceSlots: number;
  /** The chunk from which each half of the ring uses its resized mapping (see beforeChunk). */
  private hostGrowAt = Infinity;
  private deviceGrowAt = Infinity;
  private pending: PendingSize | null = null;
  private reason: string | undefined;
  private readonly samples: StageSample[] = [];

  /** The chunk count when the input is a count (start), null for an iterable. */
  private count: number | null = null;
  /** The next chunk the pump will enqueue (one past the latest beforeChunk). */
  private next = 0;
  /** Set when the start size could not be allocated (endHalf), with the size planned. */
  private startNote: string | undefined;
  private planned: StartSize | undefined;

  /** `pool`: the device's memory pool, whose ready buffers start the ring and make growing free. */
  constructor(
    private readonly opts: Readonly<PipelineOptions<unknown>>,
    private readonly pool: RingPool | null = null,
  ) {
    const serial = opts.mode === 'serial';
    this.auto = !serial && (opts.depth ?? 'auto') === 'auto';
    this.startDepth = this.depth = serial ? 1 : this.auto ? AUTO_START_DEPTH : (opts.depth as number);
    this.startDeviceSlots = this.deviceSlots = serial ? 1 : this.userDeviceSlots(this.startDepth);
  }

  /**
   * 'auto': the starting size (autoStartSize), from what an earlier run of this size decided, the
   * buffers the pool holds ready, the device's free memory (asked only for device slots beyond
   * those) and the chunk count when known.
   */
  start(freeBytes: FreeDeviceBytes, count: number | null): void {
    this.count = count;
    if (!this.auto) return;
    const start = autoStartSize(
      this.opts.outputBytes + (this.opts.inputBytes ?? 0),
      freeBytes,
      count,
      { pinned: this.pooled('pinned'), device: this.pooled('device') },
      (this.pool && decided.get(this.pool)?.get(this.sizeKey)) ?? null,
    );
    this.startDepth = this.depth = start.depth;
    this.startDeviceSlots = this.deviceSlots = this.userDeviceSlots(start.depth, start.deviceSlots);
  }

  /** The host slot chunk n takes. */
  hostIndex(n: number): number {
    return n < this.hostGrowAt ? n % this.startDepth : (n - this.hostGrowAt) % this.depth;
  }

  /** The device slot chunk n takes. */
  deviceIndex(n: number): number {
    return n < this.deviceGrowAt ? n % this.startDeviceSlots : (n - this.deviceGrowAt) % this.deviceSlots;
  }

  /** 'auto' times its warm-up chunks. */
  wantsTiming(n: number): boolean {
    return this.auto && n < AUTO_WARMUP;
  }

  /**
   * Resizes both halves of the ring once, after the warm-up measurements came in: grows them
   * (`grow` allocates slots up to the sizes it is given; it may throw), or uses only the first
   * `depth` host slots and `deviceSlots` device slots of those allocated at the start (the others
   * finish the chunks they hold and stay idle until the run ends: freeing them mid-run would wait
   * for the GPU). Fewer device slots is faster on the GPU too, even with no host in the loop: more
   * of them no longer fit the L2 cache (docs/benchmarks.md). Each half switches at the
   * start of a turn of its old ring (n a multiple of its start size), where slot 0 holds the
   * oldest chunk: switched anywhere else, the first chunk after the switch could land in the slot
   * its predecessor just used, and compute(n) would wait for D2H(n - 1) to finish: a copy-engine
   * bubble as long as a kernel, once per run.
   */
  beforeChunk(n: number, grow: (depth: number, deviceSlots: number) => void): void {
    this.next = n + 1;
    const want = this.pending;
    if (!want) return;
    if (!want.allocated) {
      this.reason = want.reason;
      try {
        grow(want.depth, want.deviceSlots);
      } catch (err) {
        // The slots made so far stay allocated (teardown frees them) but unused, and the next run
        // of this size does not start at the size that failed.
        this.reason += `; growing failed (${(err as Error).message}), kept ${this.depth} (${this.deviceSlots} on the device)`;
        this.remember(null);
        this.pending = null;
        return;
      }
      want.allocated = true;
    }
    if (this.hostGrowAt === Infinity && n % this.startDepth === 0) {
      this.hostGrowAt = n;
      this.depth = want.depth;
    }
    if (this.deviceGrowAt === Infinity && n % this.startDeviceSlots === 0) {
      this.deviceGrowAt = n;
      this.deviceSlots = want.deviceSlots;
    }
    if (this.hostGrowAt !== Infinity && this.deviceGrowAt !== Infinity) this.pending = null;
  }

  /**
   * 'auto': one released chunk's measured stage times; once the warm-up is complete, decides the
   * size the ring should have (`freeBytes` is asked only then, and only if the ring would take
   * device slots beyond those it holds and the pool's ready ones).
   */
  sample(index: number, spans: MeasuredSpans | null, sinkMs: number, wakeMs: number, freeBytes: () => number): void {
    if (!this.auto || !spans || index === 0 || index >= AUTO_WARMUP) return;
    this.samples.push({
      upload: spans.upload ? spans.upload[1] - spans.upload[0] : 0,
      compute: spans.compute[1] - spans.compute[0],
      copy: spans.copy[1] - spans.copy[0],
      sink: sinkMs,
      wake: wakeMs,
    });
    if (this.samples.length !== AUTO_WARMUP - 1) return;
    const choice = chooseDepth(
      this.samples,
      this.opts.outputBytes,
      freeBytes,
      AUTO_JITTER_MS,
      this.opts.inputBytes ?? 0,
      this.deviceSlots + this.pooled('device'),
    );
    // deviceSlots set by the caller: 'auto' picks the host ring only.
    choice.deviceSlots = this.userDeviceSlots(choice.depth, choice.deviceSlots);
    this.remember(choice);
    this.pending = this.weighGrowth(this.withinCount(choice));
  }

  /**
   * A run of `count` chunks has no use for more slots than that (the next run of the size may:
   * what is remembered is the measurement's own choice).
   */
  private withinCount(choice: DepthChoice): DepthChoice {
    const n = this.count;
    if (n === null || choice.depth <= n) return choice;
    const depth = Math.max(AUTO_START_DEPTH, n);
    const deviceSlots = Math.min(choice.deviceSlots, depth);
    return {
      ...choice,
      depth,
      deviceSlots,
      reason: relabel(choice.reason, depth, deviceSlots) + `; capped at the run's ${n} chunks`,
    };
  }

  /**
   * 'auto': the first use of a start-size slot found no memory for it (`err`): that half of the
   * ring ends at the `slots` it has (the device half at most as many as the host half), and
   * what an earlier run decided is forgotten, so the next run of this size does not start at a
   * size that no longer fits unless this run's own measurement asks for it again. Called in the
   * ring's first lap, where chunk n took slot n: n % slots starts a new turn at the oldest chunk.
   */
  endHalf(half: 'host' | 'device', slots: number, err: unknown): void {
    this.planned ??= { depth: this.depth, deviceSlots: this.deviceSlots };
    if (half === 'host') this.startDepth = this.depth = slots;
    this.startDeviceSlots = this.deviceSlots = Math.min(half === 'device' ? slots : this.deviceSlots, this.depth);
    this.startNote =
      `started with ${this.depth} (${this.deviceSlots} on the device) of the ${this.planned.depth} ` +
      `(${this.planned.deviceSlots}) planned: allocating the rest failed (${err instanceof Error ? err.message : String(err)})`;
    this.remember(null);
  }

  /** Why the run ended with the size it did (stats.depthReason); undefined for a fixed depth. */
  finalReason(delivered: number): string | undefined {
    const reason = this.decidedReason(delivered);
    return this.startNote && reason ? `${reason}; ${this.startNote}` : reason;
  }

  private decidedReason(delivered: number): string | undefined {
    if (this.auto && !this.reason) {
      const asked = this.pending && !this.pending.allocated ? this.pending : null;
      return asked
        ? `auto depth ${this.depth}: every chunk was enqueued before the warm-up measurements came in, ` +
            `so the run kept the ${this.depth} slots it started with; they asked for ${asked.reason.replace(/^auto depth /, '')}`
        : `auto depth ${this.depth}: the run had ${delivered} chunks, too few to time (needs ${AUTO_WARMUP}); kept the ${this.depth} slots it started with`;
    }
    if (this.pending?.allocated)
      // Decided, but the chunks ran out before a turn of the old ring began: the stats say what ran.
      return `${this.reason}; the run ended before the ring switched over (it ran ${this.depth}, ${this.deviceSlots} on the device)`;
    return this.reason;
  }

  /** Device slots for a ring of `depth` host slots: options.deviceSlots when set (at most depth), else `otherwise`. */
  private userDeviceSlots(depth: number, otherwise = depth): number {
    const d = this.opts.deviceSlots;
    return typeof d === 'number' ? Math.min(d, depth) : otherwise;
  }

  private get sizeKey(): string {
    return `${this.opts.outputBytes}+${this.opts.inputBytes ?? 0}`;
  }

  private pooled(kind: 'pinned' | 'device'): number {
    return this.pool?.ready(kind, this.opts.outputBytes) ?? 0;
  }

  /** Where the next 'auto' run of this size on this device starts (null: from the pool again). */
  private remember(size: StartSize | null): void {
    if (!this.pool) return;
    let sizes = decided.get(this.pool);
    if (!sizes) decided.set(this.pool, (sizes = new Map()));
    if (size) sizes.set(this.sizeKey, { depth: size.depth, deviceSlots: size.deviceSlots });
    else sizes.delete(this.sizeKey);
  }

  /**
   * Growing allocates pinned memory on the host thread (milliseconds per 64 MiB; the cost per slot
   * is the pool's latest measure, or this run's set-up). While it runs nothing is enqueued, so
   * the GPU lives on the work already queued, about (depth - 1) bottleneck periods. The run grows
   * when that covers the stall, or when the chunks it has left repay the rest of it at the time
   * per chunk the bigger ring saves (chunkPeriodMs; an iterable is taken to be long). Otherwise it
   * keeps its size, and the next run of this size starts at the one decided (remember). Asked for
   * fewer slots than allocated, the run uses that many (see beforeChunk).
   */
  private weighGrowth(choice: DepthChoice): PendingSize {
    const ms = (x: number) => `${x.toFixed(x < 1 ? 3 : 1)} ms`;
    const addHost = Math.max(0, choice.depth - this.depth);
    const addDevice = Math.max(0, choice.deviceSlots - this.deviceSlots);
    if (addHost + addDevice === 0) {
      if (choice.depth === this.depth && choice.deviceSlots === this.deviceSlots) return choice;
      return {
        ...choice,
        reason:
          `${choice.reason}; uses ${choice.depth} of the ${this.depth} host slots ` +
          `and ${choice.deviceSlots} of the ${this.deviceSlots} device slots it started with`,
      };
    }
    // Slots the pool holds ready cost nothing; only the rest are allocated.
    const missHost = Math.max(0, addHost - this.pooled('pinned'));
    const missDevice = Math.max(0, addDevice - this.pooled('device'));
    const stall = missHost * this.allocMsPerHostSlot + missDevice * this.allocMsPerDeviceSlot;
    const queued = (this.depth - 1) * choice.bottleneckMs;
    if (stall <= queued) return choice;
    const left = this.count === null ? Infinity : Math.max(0, this.count - this.next);
    const perChunk =
      chunkPeriodMs(choice, this.depth, this.deviceSlots) - chunkPeriodMs(choice, choice.depth, choice.deviceSlots);
    const saved = left === Infinity ? Infinity : left * perChunk;
    const grown = `allocating ${missHost + missDevice} more slots blocks the host for ~${ms(stall)} (~${ms(queued)} of GPU work queued)`;
    if (saved > stall - queued)
      return {
        ...choice,
        reason:
          `${choice.reason}; grown from ${this.depth} (${this.deviceSlots} on the device): ${grown}, ` +
          (left === Infinity
            ? 'paid once in a run of unknown length'
            : `repaid by the ${left} chunks left (~${ms(saved)} saved)`),
      };
    const deviceSlots = Math.min(choice.deviceSlots, this.deviceSlots);
    return {
      ...choice,
      depth: this.depth,
      deviceSlots,
      reason:
        `${relabel(choice.reason, this.depth, deviceSlots)}; ` +
        `not grown to ${choice.depth} (${choice.deviceSlots} on the device): ${grown}, ` +
        `more than the ${left} chunks left would save (~${ms(saved)}); kept ${this.depth}, and the next run of this size starts at ${choice.depth}`,
    };
  }
}

/** A choice's reason with the size it names replaced by the one the run takes instead. */
function relabel(reason: string, depth: number, deviceSlots: number): string {
  return reason.replace(/^auto depth \d+, \d+ on the device/, `auto depth ${depth}, ${deviceSlots} on the device`);
}
