// Finds the workload cost (e.g. the synthetic kernel's iters) whose kernel time per chunk is a
// given multiple of the chunk's D2H time, by measuring: kernel time is close to affine in the
// cost (a launch floor plus work), so two measurements and one correction land it.
import type { Device } from '../core/types.js';
import { computeAloneMs, type ComputeFn } from './alone.js';

export interface Tunable {
  compute: ComputeFn;
  setCost(cost: number): void;
}

export interface Calibration {
  cost: number;
  /** Kernel ms per chunk measured at `cost`. */
  computeMsPerChunk: number;
  targetMsPerChunk: number;
}

export async function calibrateCost(
  device: Device,
  work: Tunable,
  options: { chunkBytes: number; targetMsPerChunk: number; initialCost: number; maxCost?: number; probeChunks?: number },
): Promise<Calibration> {
  const probe = options.probeChunks ?? 6;
  const maxCost = options.maxCost ?? 2 ** 31 - 1;
  const target = options.targetMsPerChunk;
  const measure = async (cost: number): Promise<number> => {
    work.setCost(cost);
    return (await computeAloneMs(device, work.compute, { chunkBytes: options.chunkBytes, chunks: probe, warmup: 1 })) / probe;
  };
  let c1 = Math.max(1, Math.round(options.initialCost));
  let t1 = await measure(c1);
  // Grow until the work, not the launch floor, dominates what we measure.
  for (let i = 0; i < 12 && t1 < target * 0.25 && c1 * 4 <= maxCost; i++) {
    c1 *= 4;
    t1 = await measure(c1);
  }
  const c2 = Math.min(maxCost, c1 * 2);
  const t2 = await measure(c2);
  const slope = (t2 - t1) / (c2 - c1);
  let cost = slope > 0 ? c1 + (target - t1) / slope : c1 * (target / Math.max(t1, 1e-9));
  cost = Math.min(maxCost, Math.max(1, Math.round(cost)));
  let t = await measure(cost);
  if (t > 0 && Math.abs(t / target - 1) > 0.03) {
    cost = Math.min(maxCost, Math.max(1, Math.round(slope > 0 ? cost + (target - t) / slope : cost * (target / t))));
    t = await measure(cost);
  }
  work.setCost(cost);
  return { cost, computeMsPerChunk: t, targetMsPerChunk: target };
}
