// Metrics of one run, as docs/design.md defines them, from its statistics and (with trace: true) its
// per-chunk timeline. Every figure here is derived from spans the pipeline measured; nothing is
// estimated. Times are milliseconds on the host's performance.now() clock.
import type { ChunkTiming, PipelineStats } from '../pipeline/types.js';

export type EngineStage = 'upload' | 'compute' | 'copy' | 'sink';
export const STAGES: readonly EngineStage[] = ['upload', 'compute', 'copy', 'sink'];

/** Why the compute engine sat idle between two kernels. */
export type GapCause =
  /** The host enqueued the next kernel after the previous one had finished, with nothing holding it back. */
  | 'host-late'
  /**
   * The kernel waited for its device slot: the D2H of the slot's previous chunk was still running
   * (barrier 1), or could not be enqueued before an earlier D2H into its pinned slot finished;
   * the copy engine is behind.
   */
  | 'ring-full'
  /**
   * The kernel could not be enqueued: the D2H of its device slot's previous chunk was itself
   * waiting for a pinned slot a running host stage still held (barrier 3); the host stage is behind.
   */
  | 'host-stage'
  /** Enqueued in time, but the kernel waited for its upload H2D(n) (barrier 5). */
  | 'upload'
  /** Enqueued in time and nothing it waits on was running: launch latency. */
  | 'launch';

export interface IdleGap {
  start: number;
  end: number;
  ms: number;
  /** The kernels either side of the gap (chunk indices). */
  afterChunk: number;
  beforeChunk: number;
  /** Milliseconds of the gap during which each other stage was busy. */
  during: { upload: number; copy: number; sink: number };
  /** Chunks whose copy / host stage overlapped the gap. */
  copyChunks: number[];
  sinkChunks: number[];
  cause: GapCause;
}

export interface KernelUtilization {
  /** Σ kernel busy / steady-state wall; null without a timeline. */
  strict: number | null;
  /** Σ kernel busy / whole wall (the fill and drain included); null without busy time. */
  whole: number | null;
  /** The steady-state window, first kernel start to last kernel end. */
  window: { start: number; end: number; ms: number } | null;
  method: string;
}

export interface RunMetrics {
  /** Where the busy times came from: the per-chunk timeline, or the pipeline's own sums. */
  source: 'timeline' | 'stats';
  chunks: number;
  wallMs: number;
  busyMs: Record<EngineStage, number | null>;
  busyFraction: Record<EngineStage, number | null>;
  /** max Σ stage busy over the stages that ran. */
  idealMs: number | null;
  /** idealMs / wallMs. */
  efficiency: number | null;
  bottleneck: EngineStage | null;
  kernelUtilization: KernelUtilization;
  /** Bytes per second: over Σ copy busy, over the wall, and the wall figure against the peak. */
  copyThroughput: { busy: number | null; wall: number; peak: number | null; ofPeak: number | null };
  gaps: {
    count: number;
    totalMs: number;
    maxMs: number;
    /** Totals of gap time by cause. */
    byCause: Record<GapCause, number>;
    /** The largest gaps first, at most `maxGaps` of them. */
    largest: IdleGap[];
  };
}

export interface MetricsOptions {
  /** Gaps shorter than this are timer noise, not idle engines. Default 0.002 ms (2 µs). */
  minGapMs?: number;
  /** How many of the largest gaps to keep. Default 50. */
  maxGaps?: number;
  /** Pinned D2H bytes/s measured in the same run, for copyThroughput.ofPeak. */
  pinnedPeak?: number | null;
}

export const STRICT_UTILIZATION_METHOD =
  'Σ kernel busy / (last kernel end − first kernel start): the fill before the first kernel and ' +
  'the drain after the last one (the last copies and host stages) are excluded, since no kernel ' +
  'can run there';

/** Union length of possibly overlapping spans (the host stage may run chunks concurrently). */
export function unionMs(spans: readonly (readonly [number, number])[]): number {
  const sorted = spans.filter((s) => s[1] > s[0]).sort((a, b) => a[0] - b[0]);
  let total = 0;
  let curStart = -Infinity;
  let curEnd = -Infinity;
  for (const [s, e] of sorted) {
    if (s > curEnd) {
      if (curEnd > curStart) total += curEnd - curStart;
      curStart = s;
      curEnd = e;
    } else if (e > curEnd) {
      curEnd = e;
    }
  }
  if (curEnd > curStart) total += curEnd - curStart;
  return total;
}

/** Milliseconds of [start, end] covered by the union of `spans`. */
export function overlapMs(spans: readonly (readonly [number, number])[], start: number, end: number): number {
  const clipped: [number, number][] = [];
  for (const [s, e] of spans) {
    const a = Math.max(s, start);
    const b = Math.min(e, end);
    if (b > a) clipped.push([a, b]);
  }
  return unionMs(clipped);
}

export function stageSpans(timeline: readonly ChunkTiming[], stage: EngineStage): [number, number][] {
  const out: [number, number][] = [];
  for (const c of timeline) {
    const span = c[stage];
    if (span) out.push([span[0], span[1]]);
  }
  return out;
}

/** The first and last instant of the timeline (any stage or enqueue time). */
export function timelineBounds(timeline: readonly ChunkTiming[]): { start: number; end: number } | null {
  let start = Infinity;
  let end = -Infinity;
  for (const c of timeline) {
    for (const stage of STAGES) {
      const s = c[stage];
      if (!s) continue;
      start = Math.min(start, s[0]);
      end = Math.max(end, s[1]);
    }
    start = Math.min(start, c.enqueuedCompute);
  }
  return Number.isFinite(start) && Number.isFinite(end) ? { start, end } : null;
}

/**
 * Each chunk's previous user of its device slot (barrier 1) and of its pinned slot (barrier 3):
 * the last earlier chunk in the same slot. Keyed on the slots the run recorded rather than
 * n − depth, since the device ring may be smaller than the pinned one and 'auto' resizes both.
 */
function previousUsers(timeline: readonly ChunkTiming[]): {
  device: Map<number, ChunkTiming>;
  host: Map<number, ChunkTiming>;
} {
  const device = new Map<number, ChunkTiming>();
  const host = new Map<number, ChunkTiming>();
  const lastDevice = new Map<number, ChunkTiming>();
  const lastHost = new Map<number, ChunkTiming>();
  for (const c of [...timeline].sort((a, b) => a.index - b.index)) {
    const ds = c.deviceSlot ?? c.slot;
    const d = lastDevice.get(ds);
    if (d) device.set(c.index, d);
    const h = lastHost.get(c.slot);
    if (h) host.set(c.index, h);
    lastDevice.set(ds, c);
    lastHost.set(c.slot, c);
  }
  return { device, host };
}

/**
 * The compute engine's idle gaps between consecutive kernels, each with what the other stages
 * were doing and a cause. Timer noise below minGapMs is ignored.
 */
export function computeGaps(timeline: readonly ChunkTiming[], minGapMs = 0.002): IdleGap[] {
  const kernels = [...timeline].sort((a, b) => a.compute[0] - b.compute[0]);
  const prevUser = previousUsers(timeline);
  const copies = stageSpans(timeline, 'copy');
  const sinks = stageSpans(timeline, 'sink');
  const uploads = stageSpans(timeline, 'upload');
  const gaps: IdleGap[] = [];
  // The edge tolerance for "it waited on that": timing events resolve to about 0.5 µs.
  const eps = Math.max(minGapMs / 2, 0.001);
  for (let k = 1; k < kernels.length; k++) {
    const prev = kernels[k - 1]!;
    const next = kernels[k]!;
    const start = prev.compute[1];
    const end = next.compute[0];
    if (end - start < minGapMs) continue;
    const during = {
      upload: overlapMs(uploads, start, end),
      copy: overlapMs(copies, start, end),
      sink: overlapMs(sinks, start, end),
    };
    const copyChunks = timeline.filter((c) => c.copy[1] > start && c.copy[0] < end).map((c) => c.index);
    const sinkChunks = timeline.filter((c) => c.sink[1] > start && c.sink[0] < end).map((c) => c.index);
    // q: the device slot's previous user; p: the previous user of q's pinned slot.
    const q = prevUser.device.get(next.index);
    const p = q ? prevUser.host.get(q.index) : undefined;
    let cause: GapCause = 'launch';
    if (next.enqueuedCompute > start + eps) {
      // Enqueued late. compute(n) may have been waiting for D2H(q) to be enqueued, and D2H(q) for
      // p's pinned slot: still being copied into (the copy engine is behind), or held by a host
      // stage that had started (the host stage is behind). Otherwise the host itself was late,
      // including late to notice that D2H(p) had finished.
      cause = 'host-late';
      if (q && p && q.enqueuedCopy > start + eps && p.sink[1] > start + eps) {
        if (p.copy[1] > start + eps) cause = 'ring-full';
        else if (p.sink[0] <= start + eps) cause = 'host-stage';
      }
    } else if (next.upload && next.upload[1] > start + eps) cause = 'upload';
    else if (q && q.copy[1] > start + eps) cause = 'ring-full';
    gaps.push({
      start,
      end,
      ms: end - start,
      afterChunk: prev.index,
      beforeChunk: next.index,
      during,
      copyChunks,
      sinkChunks,
      cause,
    });
  }
  return gaps;
}

function argmaxStage(busy: Record<EngineStage, number | null>): EngineStage | null {
  let best: EngineStage | null = null;
  for (const s of STAGES) {
    const v = busy[s];
    if (v === null || v <= 0) continue;
    if (best === null || v > busy[best]!) best = s;
  }
  return best;
}

/** Metrics of one run. With a timeline, busy times are span unions; without, the stats' sums. */
export function computeMetrics(stats: PipelineStats, options: MetricsOptions = {}): RunMetrics {
  const minGapMs = options.minGapMs ?? 0.002;
  const maxGaps = options.maxGaps ?? 50;
  const timeline = stats.timeline && stats.timeline.length > 0 ? stats.timeline : null;
  const wallMs = stats.wallMs;
  const busyMs = {} as Record<EngineStage, number | null>;
  if (timeline) {
    const hasUpload = timeline.some((c) => c.upload);
    for (const s of STAGES) busyMs[s] = s === 'upload' && !hasUpload ? null : unionMs(stageSpans(timeline, s));
  } else {
    for (const s of STAGES) busyMs[s] = stats.stages[s]?.busyMs ?? null;
    if (stats.bytesIn === 0 && busyMs.upload === null) busyMs.upload = null;
  }
  const busyFraction = {} as Record<EngineStage, number | null>;
  for (const s of STAGES) busyFraction[s] = busyMs[s] === null || wallMs <= 0 ? null : busyMs[s]! / wallMs;

  // Ideal needs every stage that ran: compute, copy and the host stage (upload when present).
  const needed: EngineStage[] = ['compute', 'copy', 'sink'];
  if (stats.bytesIn > 0 || busyMs.upload !== null) needed.push('upload');
  const known = needed.every((s) => busyMs[s] !== null);
  const idealMs = known ? Math.max(...needed.map((s) => busyMs[s]!)) : null;
  const efficiency = idealMs !== null && wallMs > 0 ? idealMs / wallMs : null;

  let window: KernelUtilization['window'] = null;
  let strict: number | null = null;
  if (timeline) {
    let start = Infinity;
    let end = -Infinity;
    for (const c of timeline) {
      start = Math.min(start, c.compute[0]);
      end = Math.max(end, c.compute[1]);
    }
    if (end > start) {
      window = { start, end, ms: end - start };
      strict = busyMs.compute! / window.ms;
    }
  }
  const whole = busyMs.compute !== null && wallMs > 0 ? busyMs.compute / wallMs : null;

  const copyBusy = busyMs.copy;
  const wallThroughput = wallMs > 0 ? stats.bytesOut / (wallMs / 1000) : 0;
  const peak = options.pinnedPeak ?? null;
  const copyThroughput = {
    busy: copyBusy && copyBusy > 0 ? stats.bytesOut / (copyBusy / 1000) : null,
    wall: wallThroughput,
    peak,
    ofPeak: peak ? wallThroughput / peak : null,
  };

  const all = timeline ? computeGaps(timeline, minGapMs) : [];
  const byCause: Record<GapCause, number> = { 'host-late': 0, 'ring-full': 0, 'host-stage': 0, upload: 0, launch: 0 };
  let totalMs = 0;
  let maxMs = 0;
  for (const g of all) {
    byCause[g.cause] += g.ms;
    totalMs += g.ms;
    maxMs = Math.max(maxMs, g.ms);
  }
  const largest = [...all].sort((a, b) => b.ms - a.ms).slice(0, maxGaps);

  return {
    source: timeline ? 'timeline' : 'stats',
    chunks: stats.chunks,
    wallMs,
    busyMs,
    busyFraction,
    idealMs,
    efficiency,
    bottleneck: argmaxStage(busyMs),
    kernelUtilization: { strict, whole, window, method: STRICT_UTILIZATION_METHOD },
    copyThroughput,
    gaps: { count: all.length, totalMs, maxMs, byCause, largest },
  };
}

/**
 * What per-chunk timing events cost: the traced run's wall minus the untraced run's, per chunk,
 * for the same cell. Negative values are noise and are reported as measured.
 */
export function traceCostPerChunkMs(
  untraced: Pick<PipelineStats, 'wallMs' | 'chunks'>,
  traced: Pick<PipelineStats, 'wallMs' | 'chunks'>,
): number | null {
  if (untraced.chunks <= 0 || untraced.chunks !== traced.chunks) return null;
  return (traced.wallMs - untraced.wallMs) / untraced.chunks;
}

/** Efficiency against stages measured alone in the same process: max(stage alone) / wall. */
export function efficiencyAgainstAlone(wallMs: number, aloneMs: readonly (number | null | undefined)[]): number | null {
  const known = aloneMs.filter((v): v is number => typeof v === 'number' && v > 0);
  if (known.length === 0 || wallMs <= 0) return null;
  return Math.max(...known) / wallMs;
}
