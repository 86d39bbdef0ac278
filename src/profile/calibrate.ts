// Finds the workload cost (e.g. the synthetic kernel's iters) whose kernel time per chunk is a
// given multiple (the ratio) of the chunk's D2H time, by measuring. Kernel time is close to
// affine in the cost (a fixed part plus work), so a line through two measured points lands near
// the target and a step or two along the line through the newest probe finishes it. Every probe,
// and the D2H time when the caller has not measured it, is timed by timeAlone (alone.ts) with
// the caller's timing, so the calibration agrees with how the caller times its stages alone.
import { median } from '../util/median.js';
import type { Device } from '../pipeline/device.js';
import { timeAlone, type AloneOptions, type ComputeFn } from './alone.js';

/** A workload whose per-chunk cost can be set: compute enqueues a chunk at the cost set last. */
export interface Tunable {
  compute: ComputeFn;
  setCost(cost: number): void;
}

/**
 * How a probe is timed: timeAlone's options, with the chunks per probe fixed or 'adaptive'
 * (ADAPTIVE_FIRST_CHUNKS for the first probe, then enough for about ADAPTIVE_PROBE_MS of GPU
 * time, within ADAPTIVE_MIN_CHUNKS … ADAPTIVE_MAX_CHUNKS). A probe's figure is the median of its
 * repeats divided by its chunks.
 */
export type ProbeTiming = Omit<AloneOptions, 'chunkBytes' | 'chunks'> & { chunks: number | 'adaptive' };

/**
 * How the search finds each ratio's cost.
 * - 'secant' (`tandem bench`): each ratio on its own, from `initialCost` (×4 until a probe takes
 *   a quarter of the target, then a second point at ×2 or ÷2), then up to 5 secant steps through
 *   the two newest probes until within 1 %; the probe closest to the target wins. The sweep
 *   calibrates each ratio just before that ratio's cells and states the ratio within 1 %. The
 *   cost stays within 1 … maxCost (default 2³¹−1).
 * - 'line' (bench/overlap.ts, bench/multi.ts, bench/race.ts): one line for every ratio, through
 *   cost 0 and a cost grown ×4 from 16 until it takes 4× the cost-0 time and 2× the D2H time;
 *   per ratio one probe where the line meets the target and, when that misses by more than 2 %,
 *   one more where the line through cost 0 and that probe meets it; the last probe is the
 *   result. The scripts calibrate all their ratios up front, where two probes serving every
 *   ratio keep it short, and print each cell's measured ratio beside the asked one; their
 *   figures in docs/benchmarks.md were calibrated this way. The cost may be 0.
 */
export type CalibrationSearch = { kind: 'secant'; initialCost: number; maxCost?: number } | { kind: 'line' };

/** calibrateCost's options: the chunk size, the ratios, the search and how probes are timed. */
export interface CalibrateOptions {
  chunkBytes: number;
  /** Kernel time per chunk ÷ D2H time per chunk to land on, one point each, in order. */
  ratios: readonly number[];
  /** D2H ms per chunk the ratios are of; measured here with `probe`'s timing when absent. */
  copyMsPerChunk?: number;
  search: CalibrationSearch;
  /** Default: { chunks: 'adaptive', warmup: 1 } (queued behind a hold, two buffers). */
  probe?: ProbeTiming;
  /** A line per ratio found (and, for 'line', one for the fitted line). */
  log?: (line: string) => void;
}

/** One ratio's result. */
export interface CalibrationPoint {
  ratio: number;
  cost: number;
  targetMsPerChunk: number;
  /** Kernel ms per chunk measured at `cost`. */
  computeMsPerChunk: number;
  /** computeMsPerChunk ÷ copyMsPerChunk. */
  measuredRatio: number;
}

/** What calibrateCost found: one point per ratio, in the order asked. */
export interface Calibration {
  chunkBytes: number;
  /** The D2H ms per chunk the ratios are of (the caller's, or measured). */
  copyMsPerChunk: number;
  points: CalibrationPoint[];
  /** Probes measured, over all ratios. */
  probes: number;
}

/**
 * 'adaptive' probes: GPU time per probe far above the event timer's resolution, so that noise
 * averages out, and the chunk counts it may take to get there.
 */
const ADAPTIVE_PROBE_MS = 2;
const ADAPTIVE_FIRST_CHUNKS = 16;
const ADAPTIVE_MIN_CHUNKS = 8;
const ADAPTIVE_MAX_CHUNKS = 256;
/** Relative miss 'secant' accepts without another step. */
const SECANT_TOLERANCE = 0.01;
/** Relative miss past which 'line' takes its one correction. */
const LINE_TOLERANCE = 0.02;

/**
 * The cost for each of `options.ratios` (see CalibrationSearch). The work's cost is left set to
 * the last point's cost.
 */
export async function calibrateCost(device: Device, work: Tunable, options: CalibrateOptions): Promise<Calibration> {
  const timing = options.probe ?? { chunks: 'adaptive', warmup: 1 };
  const { chunks: probeChunks, ...aloneTiming } = timing;
  const log = options.log ?? (() => {});
  let chunks = probeChunks === 'adaptive' ? ADAPTIVE_FIRST_CHUNKS : probeChunks;
  const time = async (stage: ComputeFn | 'copy'): Promise<number> => {
    const figures = await timeAlone(device, stage, { ...aloneTiming, chunkBytes: options.chunkBytes, chunks });
    return median(figures) / chunks;
  };
  let probes = 0;
  const measure = async (cost: number): Promise<number> => {
    work.setCost(cost);
    probes++;
    const t = await time(work.compute);
    if (probeChunks === 'adaptive' && t > 0)
      chunks = Math.min(ADAPTIVE_MAX_CHUNKS, Math.max(ADAPTIVE_MIN_CHUNKS, Math.ceil(ADAPTIVE_PROBE_MS / t)));
    return t;
  };
  const copy = options.copyMsPerChunk ?? (await time('copy'));
  const found = (ratio: number, cost: number, t: number): CalibrationPoint => {
    log(
      `calibrate ${options.chunkBytes} B: ratio ${ratio} → cost ${cost}, kernel ${t.toFixed(4)} ms (ratio ${(t / copy).toFixed(3)})`,
    );
    return { ratio, cost, targetMsPerChunk: ratio * copy, computeMsPerChunk: t, measuredRatio: t / copy };
  };
  const points: CalibrationPoint[] = [];
  const search = options.search;
  if (search.kind === 'secant') {
    for (const ratio of options.ratios) {
      const best = await secant(measure, ratio * copy, search.initialCost, search.maxCost ?? 2 ** 31 - 1);
      points.push(found(ratio, best.cost, best.t));
    }
  } else {
    const t0 = await measure(0);
    let probe = 16;
    let tp = await measure(probe);
    while (tp < Math.max(4 * t0, 2 * copy) && probe < 1 << 24) {
      probe *= 4;
      tp = await measure(probe);
    }
    const perCostMs = Math.max((tp - t0) / probe, 1e-9);
    log(
      `calibrate ${options.chunkBytes} B: D2H ${copy.toFixed(4)} ms, kernel ${t0.toFixed(4)} ms + ${(perCostMs * 1000).toFixed(4)} µs × cost`,
    );
    for (const ratio of options.ratios) {
      const target = ratio * copy;
      let cost = Math.max(0, Math.round((target - t0) / perCostMs));
      let t = await measure(cost);
      if (t > 0 && Math.abs(t / copy - ratio) > LINE_TOLERANCE * ratio) {
        cost = Math.max(0, Math.round(cost * ((target - t0) / Math.max(t - t0, 1e-9))));
        t = await measure(cost);
      }
      points.push(found(ratio, cost, t));
    }
  }
  if (points.length) work.setCost(points[points.length - 1]!.cost);
  return { chunkBytes: options.chunkBytes, copyMsPerChunk: copy, points, probes };
}

/** 'secant' for one target: the probe closest to it. */
async function secant(
  measure: (cost: number) => Promise<number>,
  target: number,
  initialCost: number,
  maxCost: number,
): Promise<{ cost: number; t: number }> {
  const clamp = (c: number) => Math.min(maxCost, Math.max(1, Math.round(c)));
  let c1 = clamp(initialCost);
  let t1 = await measure(c1);
  // Grow until the work, not the fixed part, dominates what we measure.
  for (let i = 0; i < 16 && t1 < target * 0.25 && c1 * 4 <= maxCost; i++) {
    c1 *= 4;
    t1 = await measure(c1);
  }
  let c2 = clamp(t1 < target ? c1 * 2 : c1 / 2);
  if (c2 === c1) c2 = clamp(c1 + 1);
  let t2 = await measure(c2);
  let best = Math.abs(t1 - target) <= Math.abs(t2 - target) ? { cost: c1, t: t1 } : { cost: c2, t: t2 };
  for (let step = 0; step < 5 && Math.abs(best.t / target - 1) > SECANT_TOLERANCE; step++) {
    const slope = (t2 - t1) / (c2 - c1);
    const next = clamp(slope > 0 ? c2 + (target - t2) / slope : c2 * (target / Math.max(t2, 1e-9)));
    if (next === c2 || next === c1) break; // the cost's integer step is coarser than the tolerance
    [c1, t1] = [c2, t2];
    c2 = next;
    t2 = await measure(c2);
    if (Math.abs(t2 - target) < Math.abs(best.t - target)) best = { cost: c2, t: t2 };
  }
  return best;
}
