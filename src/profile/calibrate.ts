// Finds the workload cost (e.g. the synthetic kernel's iters) whose kernel time per chunk is a
// given multiple of the chunk's D2H time, by measuring. Kernel time is close to affine in the
// cost (a fixed part plus work), so a line through two points lands near the target and a few
// secant steps finish it. Each probe is timed as timeAlone times the cells: chunks queued
// back to back behind a hold on a real GPU (alone.ts), so calibration and the cells' "compute
// alone" agree — a probe that timed the host's launches instead missed ratio 0.5 at 4 MiB by 2×.
import type { Device } from '../pipeline/device.js';
import { timeAlone, type ComputeFn } from './alone.js';

export interface Tunable {
  compute: ComputeFn;
  setCost(cost: number): void;
}

export interface Calibration {
  cost: number;
  /** Kernel ms per chunk measured at `cost`. */
  computeMsPerChunk: number;
  targetMsPerChunk: number;
  /** Probes measured. */
  probes: number;
}

/** Relative miss accepted without another step. */
const TOLERANCE = 0.01;

export async function calibrateCost(
  device: Device,
  work: Tunable,
  options: {
    chunkBytes: number;
    targetMsPerChunk: number;
    initialCost: number;
    maxCost?: number;
    probeChunks?: number;
  },
): Promise<Calibration> {
  const maxCost = options.maxCost ?? 2 ** 31 - 1;
  const target = options.targetMsPerChunk;
  // Enough chunks per probe for ~2 ms of GPU time (timer resolution ~0.5 µs; noise averages out).
  let probe = options.probeChunks ?? 16;
  let probes = 0;
  const measure = async (cost: number): Promise<number> => {
    work.setCost(cost);
    probes++;
    const [ms] = await timeAlone(device, work.compute, { chunkBytes: options.chunkBytes, chunks: probe, warmup: 1 });
    const t = ms / probe;
    if (options.probeChunks === undefined && t > 0) probe = Math.min(256, Math.max(8, Math.ceil(2 / t)));
    return t;
  };
  const clamp = (c: number) => Math.min(maxCost, Math.max(1, Math.round(c)));
  let c1 = clamp(options.initialCost);
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
  for (let step = 0; step < 5 && Math.abs(best.t / target - 1) > TOLERANCE; step++) {
    const slope = (t2 - t1) / (c2 - c1);
    const next = clamp(slope > 0 ? c2 + (target - t2) / slope : c2 * (target / Math.max(t2, 1e-9)));
    if (next === c2 || next === c1) break; // the cost's integer step is coarser than the tolerance
    [c1, t1] = [c2, t2];
    c2 = next;
    t2 = await measure(c2);
    if (Math.abs(t2 - target) < Math.abs(best.t - target)) best = { cost: c2, t: t2 };
  }
  work.setCost(best.cost);
  return { cost: best.cost, computeMsPerChunk: best.t, targetMsPerChunk: target, probes };
}
