// The stream peers' rounds inside one overlap cell of `tandem bench`: which depths each peer runs
// at after each of tandem's untraced runs, and the peer's figure for the cell from its rounds.
// A peer's depth is both its device and its pinned buffers. Where tandem's ring had fewer device
// slots than pinned ones (d16/3), neither depth alone is the peer's fair match, so the peers run
// at both in the first round and, from then on, each only at the one that was faster for it:
// running both in every round cost ~4 s of a ~60 s default bench (5 cells × 2 rounds × 2 peers).
import { median } from '../util/median.js';
import type { PipelineStats } from '../pipeline/types.js';
import type { Cell } from './results.js';

/** One untraced tandem run of a cell and the peer runs right after it. */
export interface InterleavedRound {
  stats: PipelineStats;
  t0: number;
  t1: number;
  /** Peer name → depth → wall (ms). */
  peers: Record<string, Record<number, number>>;
}

/** Each peer's depth, chosen in the first round that ran it at two; kept for the cell. */
export class PeerDepthChoice {
  private readonly preferred = new Map<string, number>();

  /**
   * The peers not to run at `depth` in a round that runs `depths`: those whose chosen depth is
   * another one of this round's. A peer with no choice yet, or whose choice this round lacks
   * ('auto' can resolve differently from one run to the next), runs at every depth.
   */
  skipAt(depth: number, depths: readonly number[]): Set<string> {
    const skip = new Set<string>();
    for (const [name, d] of this.preferred) if (d !== depth && depths.includes(d)) skip.add(name);
    return skip;
  }

  /** After a round: a peer that ran at two or more depths keeps the fastest (first choice stands). */
  record(round: InterleavedRound['peers']): void {
    for (const [name, byDepth] of Object.entries(round)) {
      const walls = Object.entries(byDepth);
      if (this.preferred.has(name) || walls.length < 2) continue;
      this.preferred.set(name, Number(walls.reduce((a, b) => (b[1] < a[1] ? b : a))[0]));
    }
  }
}

export interface PeerAloneSource {
  alone(peer: string): { computeAloneMs: number | null; copyAloneMs: number | null } | undefined;
}

/**
 * Each interleaved peer's figure for the cell: the median of its walls against tandem's median,
 * and the spread of the per-round ratios (each peer run against the tandem run just before it).
 * A peer run at two depths is reported at the one it ran in the most rounds (the one it chose),
 * else at the one with the lower median; depthsRun lists both.
 */
export function attachInterleaved(cell: Cell, runs: readonly InterleavedRound[], peers: PeerAloneSource): void {
  const names = new Set(runs.flatMap((r) => Object.keys(r.peers)));
  const tandem = median(runs.map((r) => r.stats.wallMs));
  for (const name of names) {
    const depths = [...new Set(runs.flatMap((r) => Object.keys(r.peers[name] ?? {}).map(Number)))];
    const series = depths.map((depth) => {
      const rounds = runs.filter((r) => r.peers[name]?.[depth] !== undefined);
      const walls = rounds.map((r) => r.peers[name]![depth]!);
      return {
        depth,
        walls,
        ratios: rounds.map((r) => r.peers[name]![depth]! / r.stats.wallMs),
        wallMs: median(walls),
      };
    });
    const best = series.reduce((a, b) =>
      b.walls.length > a.walls.length || (b.walls.length === a.walls.length && b.wallMs < a.wallMs) ? b : a,
    );
    const { walls, ratios, wallMs } = best;
    // The peer's own stages alone when it timed them, else tandem's of this cell (the same kernel
    // and copies on the same GPU in the same minute; the copy ideal is the best D2H seen so far).
    const alone = peers.alone(name);
    const own = Math.max(alone?.computeAloneMs ?? 0, alone?.copyAloneMs ?? 0);
    const ideal = own > 0 ? own : Math.max(cell.alone?.computeMs ?? 0, cell.alone?.copyMs ?? 0);
    cell.peers[name] = {
      wallMs,
      efficiency: ideal > 0 ? ideal / wallMs : null,
      computeAloneMs: alone?.computeAloneMs ?? null,
      copyAloneMs: alone?.copyAloneMs ?? null,
      bytes: cell.chunkBytes * cell.chunks,
      tandemSpeedup: wallMs / tandem,
      interleaved: true,
      depth: best.depth,
      ...(series.length > 1
        ? { depthsRun: series.map((x) => ({ depth: x.depth, wallMs: x.wallMs, runs: x.walls.length })) }
        : {}),
      ...(walls.length > 1
        ? { walls, ratioRange: [Math.min(...ratios), Math.max(...ratios)] as [number, number] }
        : {}),
    };
  }
}
