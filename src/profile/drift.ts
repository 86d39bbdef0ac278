// How steady the host's D2H bandwidth was during a sweep. Every copy-bound figure is a ratio
// against D2H alone, so when D2H alone itself moves between measurements (on some hosts by tens
// of percent within seconds: bench/copy-drift.ts tells), those figures carry that much noise, and
// the report must say so rather than print efficiencies below and above 1 side by side.
import { formatBytes } from '../util/format.js';

export interface CopyDrift {
  chunkBytes: number;
  /** Every D2H-alone measurement at this size, in order (GPU ms for the same chunks). */
  samplesMs: number[];
  /** (max − min) / min. */
  spread: number;
}

/** Spread above which the sweep warns: a steady host stays well below it. */
export const DRIFT_WARN = 0.02;

export function copyDrift(chunkBytes: number, samplesMs: number[]): CopyDrift {
  const lo = Math.min(...samplesMs);
  const hi = Math.max(...samplesMs);
  return { chunkBytes, samplesMs, spread: samplesMs.length > 1 && lo > 0 ? (hi - lo) / lo : 0 };
}

/** The warning for sizes whose D2H alone drifted more than `threshold`, or null. */
export function copyDriftNote(drifts: CopyDrift[], threshold = DRIFT_WARN): string | null {
  const bad = drifts.filter((d) => d.spread > threshold);
  if (bad.length === 0) return null;
  const each = bad.map(
    (d) =>
      `${formatBytes(d.chunkBytes)}: ${(d.spread * 100).toFixed(1)} % over ${d.samplesMs.length} measurements ` +
      `(${Math.min(...d.samplesMs).toFixed(1)}–${Math.max(...d.samplesMs).toFixed(1)} ms)`,
  );
  return (
    `D2H alone drifted on this host (${each.join('; ')}): copy-bound efficiencies and peer ratios carry that much noise. ` +
    `Rerun on a host whose copy bandwidth is steady (bench/copy-drift.ts checks in a few seconds).`
  );
}
