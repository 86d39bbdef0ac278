// A run's timing bookkeeping: per-chunk timing events (trace, and 'auto' depth's warm-up), the
// GPU spans read from them on the host clock, the busy time of each GPU stage, and the timeline
// stats.timeline reports. The pump hands it a chunk's timing set when it enqueues the chunk,
// asks for the spans once the chunk's D2H is seen complete, and records the chunk once the host
// released it. Without trace and 'auto' it makes no events at all.
import type { DeviceCore, Stream } from '../core/types.js';
import type { ResourceBag } from './ring.js';
import { HostClockAlignment, TimingPool, readSpans, type MeasuredSpans, type TimingSet } from './timing.js';
import type { ChunkTiming } from './types.js';

/** What the timeline needs to know of a chunk (the pump's chunk state has these fields). */
export interface TimedChunk {
  readonly index: number;
  readonly slot: { readonly index: number };
  readonly dev: { readonly index: number };
  timing: TimingSet | null;
  spans: MeasuredSpans | null;
  /** Host time the delivery stage started waiting for the chunk's D2H (0: it did not wait). */
  waitFrom: number;
  /** Host wake-up: from the D2H's end on the GPU to the host seeing it (ms). */
  wake: number;
  enqueuedCompute: number;
  enqueuedCopy: number;
}

export class RunTimeline {
  /** Σ GPU busy time per stage (ms), with trace. */
  readonly busy = { upload: 0, compute: 0, copy: 0 };
  /** Every released chunk's spans, with trace. */
  readonly timeline: ChunkTiming[] | null;
  private readonly pool: TimingPool | null = null;
  private readonly hostClock: HostClockAlignment | null = null;

  /**
   * `timed`: some chunks get timing events (trace or 'auto'); their events and the clock
   * reference go into `bag` and are created now, so a failure to create them fails the setup.
   */
  /** The host clock the run stamps host-side times with (DeviceCore.hostNow). */
  private readonly now: () => number;

  constructor(
    device: DeviceCore,
    bag: ResourceBag,
    stream: Stream,
    uploads: boolean,
    label: string,
    private readonly trace: boolean,
    timed: boolean,
  ) {
    this.timeline = trace ? [] : null;
    this.now = device.hostNow ?? (() => performance.now());
    if (!timed) return;
    this.pool = new TimingPool(device, bag, uploads, label);
    this.pool.prime();
    this.hostClock = HostClockAlignment.start(device, bag, stream, label);
  }

  /** A timing set for a chunk about to be enqueued (only where the run asked for timing). */
  acquire(): TimingSet {
    return this.pool!.acquire();
  }

  /** The chunk's D2H was seen complete: read its GPU spans and give its events back. */
  read(chunk: TimedChunk, timing: TimingSet): void {
    const seen = this.now();
    const spans = (chunk.spans = readSpans(timing, this.hostClock!));
    this.pool!.release(timing);
    chunk.wake = Math.max(0, seen - Math.max(spans.copy[1], chunk.waitFrom));
    if (this.trace) {
      this.busy.compute += spans.compute[1] - spans.compute[0];
      this.busy.copy += spans.copy[1] - spans.copy[0];
      if (spans.upload) this.busy.upload += spans.upload[1] - spans.upload[0];
    }
  }

  /** The host released the chunk: its host stage ran from `start` to `end`. */
  record(chunk: TimedChunk, start: number, end: number): void {
    if (!this.timeline) return;
    const s = chunk.spans;
    const t: ChunkTiming = {
      index: chunk.index,
      slot: chunk.slot.index,
      deviceSlot: chunk.dev.index,
      compute: s ? s.compute : [NaN, NaN],
      copy: s ? s.copy : [NaN, NaN],
      sink: [start, end],
      enqueuedCompute: chunk.enqueuedCompute,
      enqueuedCopy: chunk.enqueuedCopy,
    };
    if (s?.upload) t.upload = s.upload;
    this.timeline.push(t);
  }
}
