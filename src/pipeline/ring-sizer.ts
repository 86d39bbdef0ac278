// How big a run's ring is, chunk by chunk: a fixed depth, or 'auto' (auto-depth.ts), which starts
// from what memory allows, times the first chunks and then resizes both halves of the ring once.
// The pump asks three things of it: which slot chunk n takes (hostIndex, deviceIndex), whether
// to time chunk n (wantsTiming), and, before producing chunk n, whether the ring changes size
// (beforeChunk, which calls back to allocate the slots it adds). It is told each released
// chunk's measured stage times (sample). It allocates nothing itself.
import {
  AUTO_JITTER_MS,
  AUTO_START_BYTES,
  AUTO_START_DEPTH,
  AUTO_WARMUP,
  autoStartDepth,
  chooseDepth,
  type DepthChoice,
  type StageSample,
} from './auto-depth.js';
import type { MeasuredSpans } from './timing.js';
import type { PipelineOptions } from './types.js';

const AUTO_START_BYTES_MIB = AUTO_START_BYTES / 1024 ** 2;

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

  /**
   * `pooled(kind, bytes)`: how many buffers of that kind and size the device's pool holds ready
   * (taking them costs next to nothing, so they start the ring and growing into them is free).
   */
  constructor(
    private readonly opts: Readonly<PipelineOptions<unknown>>,
    private readonly pooled: (kind: 'pinned' | 'device', bytes: number) => number = () => 0,
  ) {
    const serial = opts.mode === 'serial';
    this.auto = !serial && (opts.depth ?? 'auto') === 'auto';
    this.startDepth = this.depth = serial ? 1 : this.auto ? AUTO_START_DEPTH : (opts.depth as number);
    this.startDeviceSlots = this.deviceSlots = serial ? 1 : this.userDeviceSlots(this.startDepth);
  }

  /**
   * 'auto': the starting size, from the device's free memory, the chunk count when known and the
   * pinned slots the pool holds ready.
   */
  start(freeBytes: number, count: number | null, pooled = 0): void {
    if (!this.auto) return;
    this.startDepth = this.depth = autoStartDepth(
      this.opts.outputBytes + (this.opts.inputBytes ?? 0),
      freeBytes,
      count,
      pooled,
    );
    this.startDeviceSlots = this.deviceSlots = this.userDeviceSlots(this.depth);
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
    const want = this.pending;
    if (!want) return;
    if (!want.allocated) {
      this.reason = want.reason;
      try {
        grow(want.depth, want.deviceSlots);
      } catch (err) {
        // The slots made so far stay allocated (teardown frees them) but unused.
        this.reason += `; growing failed (${(err as Error).message}), kept ${this.depth} (${this.deviceSlots} on the device)`;
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
   * size the ring should have (`freeBytes` is asked only then).
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
      freeBytes(),
      AUTO_JITTER_MS,
      this.opts.inputBytes ?? 0,
    );
    const fixed = this.opts.deviceSlots;
    // deviceSlots set by the caller: 'auto' picks the host ring only.
    if (typeof fixed === 'number') choice.deviceSlots = Math.min(fixed, choice.depth);
    this.pending = this.weighGrowth(choice);
  }

  /** Why the run ended with the size it did (stats.depthReason); undefined for a fixed depth. */
  finalReason(delivered: number): string | undefined {
    if (this.auto && !this.reason) {
      const asked = this.pending && !this.pending.allocated ? this.pending : null;
      return asked
        ? `auto depth ${this.depth}: every chunk was enqueued before the warm-up measurements came in, so the run kept the ${this.depth} slots it started with; they asked for ${asked.reason.replace(/^auto depth /, '')}`
        : `auto depth ${this.depth}: the run had ${delivered} chunks, too few to time (needs ${AUTO_WARMUP}); kept the ${this.depth} slots it started with`;
    }
    if (this.pending?.allocated)
      // Decided, but the chunks ran out before a turn of the old ring began: the stats say what ran.
      return `${this.reason}; the run ended before the ring switched over (it ran ${this.depth}, ${this.deviceSlots} on the device)`;
    return this.reason;
  }

  /** Device slots for a ring of `depth` host slots: options.deviceSlots when set, never more than depth. */
  private userDeviceSlots(depth: number): number {
    const d = this.opts.deviceSlots;
    return typeof d === 'number' ? Math.min(d, depth) : depth;
  }

  /**
   * Growing allocates pinned memory on the host thread (milliseconds per 64 MiB, measured at
   * setup per host and per device slot). While it runs nothing is enqueued, so the GPU lives on
   * the work already queued, about (depth - 1) bottleneck periods: grow only if the stall fits in
   * that. Asked for fewer slots than allocated, the run uses that many (see beforeChunk).
   */
  private weighGrowth(choice: DepthChoice): PendingSize {
    const ms = (x: number) => `${x.toFixed(x < 1 ? 3 : 1)} ms`;
    const addHost = Math.max(0, choice.depth - this.depth);
    const addDevice = Math.max(0, choice.deviceSlots - this.deviceSlots);
    if (addHost + addDevice === 0) {
      if (choice.depth === this.depth && choice.deviceSlots === this.deviceSlots) return choice;
      return {
        ...choice,
        reason: `${choice.reason}; uses ${choice.depth} of the ${this.depth} host slots and ${choice.deviceSlots} of the ${this.deviceSlots} device slots allocated at the start (what the pool held ready, else up to ${AUTO_START_BYTES_MIB} MiB of ring before measuring)`,
      };
    }
    // Slots the pool holds ready cost nothing; only the rest are allocated.
    const missHost = Math.max(0, addHost - this.pooled('pinned', this.opts.outputBytes));
    const missDevice = Math.max(0, addDevice - this.pooled('device', this.opts.outputBytes));
    const stall = missHost * this.allocMsPerHostSlot + missDevice * this.allocMsPerDeviceSlot;
    const queued = (this.depth - 1) * choice.bottleneckMs;
    if (stall <= queued) return choice;
    const deviceSlots = Math.min(choice.deviceSlots, this.deviceSlots);
    return {
      depth: this.depth,
      deviceSlots,
      reason:
        `${choice.reason.replace(/^auto depth \d+, \d+ on the device/, `auto depth ${this.depth}, ${deviceSlots} on the device`)}; ` +
        `not grown to ${choice.depth} (${choice.deviceSlots} on the device): allocating ${addHost + addDevice} more slots would block the host for ~${ms(stall)} (allocation time measured at setup) ` +
        `with only ~${ms(queued)} of GPU work queued; kept ${this.depth}`,
    };
  }
}
