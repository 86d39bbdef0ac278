// What the probes share: leave quietly where there is no driver; the synthetic-kernel ones read their
// CELLS list ("iters:depth,..." — kernel iterations, then a ring depth or auto) from the env.
import { driverAvailable } from '../src/core/open.js';
import type { DepthSpec } from '../src/profile/sweep.js';

/** A logger tagged with the probe's name; exits 0 with the reason when no CUDA driver is present. */
export function probeStart(tag: string): (line: string) => void {
  const log = (l: string) => process.stderr.write(`[${tag}] ${l}\n`);
  const avail = driverAvailable();
  if (!avail.ok) {
    log(`skipped: ${avail.reason}`);
    process.exit(0);
  }
  return log;
}

/** CELLS from the env (or `fallback`): kernel iterations and a ring depth per cell. */
export function probeCells(fallback: string): { iters: number; depth: DepthSpec }[] {
  return (process.env.CELLS ?? fallback).split(',').map((c) => {
    const [iters, depth] = c.split(':');
    return { iters: Number(iters), depth: depth === 'auto' ? 'auto' : Number(depth) };
  });
}
