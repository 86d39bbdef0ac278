// Grid/block normalisation: a number or 1–3 dimensions → [x, y, z], checked against the
// device's limits before the driver sees them, with messages that say what to change.
import type { Dim } from './types.js';
import { formatBytes } from '../util/format.js';
import { UsageError } from '../util/errors.js';

export type Dim3 = [number, number, number];

export interface LaunchLimits {
  maxThreadsPerBlock: number;
  maxBlockDim: Dim3;
  maxGridDim: Dim3;
  /** Shared memory a block gets without opting in (48 KiB on every GPU since Kepler). */
  maxSharedMemPerBlock: number;
}

/** The limits of every CUDA GPU since compute capability 3.0; real devices report their own. */
export const DEFAULT_LIMITS: LaunchLimits = {
  maxThreadsPerBlock: 1024,
  maxBlockDim: [1024, 1024, 64],
  maxGridDim: [2 ** 31 - 1, 65535, 65535],
  maxSharedMemPerBlock: 48 * 1024,
};

export interface NormalizedLaunch {
  grid: Dim3;
  block: Dim3;
  sharedMemBytes: number;
}

const AXES = ['x', 'y', 'z'] as const;

export function normalizeDim(dim: Dim, what: 'grid' | 'block'): Dim3 {
  const parts: readonly number[] = typeof dim === 'number' ? [dim] : Array.isArray(dim) ? dim : [];
  if (parts.length < 1 || parts.length > 3) {
    throw new UsageError(
      `${what} must be a number or 1 to 3 dimensions, e.g. ${what}: 256 or ${what}: [16, 16]; got ${show(dim)}`,
    );
  }
  const out: Dim3 = [1, 1, 1];
  parts.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 1) {
      throw new UsageError(
        `${what}.${AXES[i]} must be a positive integer; got ${show(v)}${what === 'grid' ? ' (round the chunk size up: Math.ceil(n / block))' : ''}`,
      );
    }
    out[i] = v;
  });
  return out;
}

export function normalizeLaunch(
  grid: Dim,
  block: Dim,
  sharedMemBytes: number | undefined,
  limits: LaunchLimits = DEFAULT_LIMITS,
): NormalizedLaunch {
  const g = normalizeDim(grid, 'grid');
  const b = normalizeDim(block, 'block');
  for (let i = 0; i < 3; i++) {
    if (b[i]! > limits.maxBlockDim[i]!) {
      throw new UsageError(
        `block.${AXES[i]} = ${b[i]} exceeds this device's limit of ${limits.maxBlockDim[i]}; move threads to another axis or to the grid`,
      );
    }
    if (g[i]! > limits.maxGridDim[i]!) {
      throw new UsageError(
        `grid.${AXES[i]} = ${g[i]} exceeds this device's limit of ${limits.maxGridDim[i]}; use larger blocks, another axis, or a grid-stride loop`,
      );
    }
  }
  const threads = b[0] * b[1] * b[2];
  if (threads > limits.maxThreadsPerBlock) {
    throw new UsageError(
      `block [${b.join(', ')}] has ${threads} threads; this device allows ${limits.maxThreadsPerBlock} per block: use a smaller block and a larger grid`,
    );
  }
  const shared = sharedMemBytes ?? 0;
  if (!Number.isInteger(shared) || shared < 0) {
    throw new UsageError(`sharedMemBytes must be a non-negative integer; got ${show(shared)}`);
  }
  if (shared > limits.maxSharedMemPerBlock) {
    throw new UsageError(
      `sharedMemBytes = ${formatBytes(shared)} exceeds the ${formatBytes(limits.maxSharedMemPerBlock)} a block may use; ` +
        `use less dynamic shared memory per block`,
    );
  }
  return { grid: g, block: b, sharedMemBytes: shared };
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
