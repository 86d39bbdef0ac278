// The plain-text table `tandem bench` prints on stdout: one row per cell, headline figures from
// the untraced run, utilisation from the traced one, tandem against each peer (peer wall / tandem
// wall: above 1 means tandem was faster; with --repeats the ratio of the medians, and in brackets
// the lowest and highest ratio of single rounds) and, per cell, which of them was fastest.
import { formatBytes } from '../util/format.js';
import type { Results } from './results.js';

const f = (v: number | null | undefined, digits: number, suffix = ''): string =>
  typeof v === 'number' && Number.isFinite(v) ? `${v.toFixed(digits)}${suffix}` : '–';
const pct = (v: number | null | undefined): string =>
  typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–';

export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** 'd16/3' where 16 pinned slots had 3 device slots under them, else 'd6'. */
export function ringLabel(c: { depth: number; stats: { deviceSlots?: number } }): string {
  const ds = c.stats.deviceSlots;
  return ds !== undefined && ds !== c.depth ? `${c.depth}/${ds}` : String(c.depth);
}

export function resultsTable(results: Results): string {
  const peers = results.peers.filter((p) => p.status === 'ok').map((p) => p.name);
  const header = [
    'mode',
    'size',
    'ratio',
    'chunks',
    'wall ms',
    'eff',
    'c/c meas',
    'kernel util',
    'NVML',
    'D2H GB/s',
    'of peak',
    'trace µs/ch',
    ...peers.map((p) => `${p}/tandem`),
    ...(peers.length ? ['fastest'] : []),
  ];
  const rows = [header];
  for (const c of results.cells) {
    rows.push([
      (c.mode === 'serial' ? 'serial' : `overlap d${ringLabel(c)}`) +
        (typeof c.params.pipelines === 'number' && c.params.pipelines > 1 ? ` ×${c.params.pipelines}` : ''),
      formatBytes(c.chunkBytes),
      c.ratio === null ? '–' : String(c.ratio),
      String(c.chunks),
      f(c.stats.wallMs, 2),
      f(c.efficiency, 4),
      f(c.measuredRatio, 2),
      pct(c.traced?.metrics.kernelUtilization.strict),
      f(c.nvml?.mean, 0, '%'),
      f(c.stats.copyThroughput.wall / 1e9, 2),
      pct(c.copyOfPeak),
      traceCostText(c.traceCostPerChunkUs, traceNoiseUs(c)),
      ...peers.map((p) => {
        const pc = c.peers[p];
        if (pc?.tandemSpeedup === undefined) return '–';
        // Repeated cells: the median ratio, then the lowest and highest of the rounds.
        const range = pc.ratioRange ? ` [${pc.ratioRange[0].toFixed(3)}–${pc.ratioRange[1].toFixed(3)}]` : '';
        return `${pc.tandemSpeedup.toFixed(3)}×${range}`;
      }),
      ...(peers.length ? [fastest(c, peers)] : []),
    ]);
  }
  return formatTable(rows);
}

/**
 * The untraced runs' spread per chunk (µs): (slowest − fastest wall) / chunks, 0 with one run.
 * A traced run that differs from the untraced one by less than this tells nothing of its cost.
 */
export function traceNoiseUs(c: { walls?: number[]; chunks: number }): number {
  const w = c.walls;
  if (!w || w.length < 2 || !(c.chunks > 0)) return 0;
  return ((Math.max(...w) - Math.min(...w)) / c.chunks) * 1000;
}

/**
 * The tracing cost as printed: µs per chunk where the traced run was slower by more than the
 * untraced runs' spread, else 'within noise' (a traced run that came out faster did not cost a
 * negative amount: the difference is the host's jitter). '–' when not measured.
 */
export function traceCostText(costUs: number | null | undefined, noiseUs: number): string {
  if (typeof costUs !== 'number' || !Number.isFinite(costUs)) return '–';
  // Float residue of equal walls (the fake device's virtual ones) prints as 0.00, not -0.00.
  if (Math.abs(costUs) < 0.005 && noiseUs === 0) return '0.00';
  if (costUs <= 0 || costUs <= noiseUs) return 'within noise';
  return costUs.toFixed(2);
}

/**
 * The fastest of tandem and the peers that ran this cell, with its lead over the runner-up
 * ('tandem +1.6%': the next one took 1.6% longer); '–' when no peer ran the cell. Between tandem
 * and an interleaved peer the rounds are paired (each peer run right after a tandem run): where
 * some rounds went one way and some the other, the lead of the medians is no order, and the
 * verdict says so ('tie, rounds split: cupy-streams +0.1%').
 */
export function fastest(cell: Results['cells'][number], peers: readonly string[]): string {
  const walls: [string, number][] = [['tandem', cell.stats.wallMs]];
  for (const p of peers) {
    const w = cell.peers[p]?.wallMs;
    if (typeof w === 'number' && w > 0) walls.push([p, w]);
  }
  if (walls.length < 2) return '–';
  walls.sort((a, b) => a[1] - b[1]);
  const [first, second] = [walls[0]![0], walls[1]![0]];
  const lead = `${first} +${((walls[1]![1] / walls[0]![1] - 1) * 100).toFixed(1)}%`;
  const peer = first === 'tandem' ? second : second === 'tandem' ? first : null;
  const range = peer === null ? undefined : cell.peers[peer]?.ratioRange;
  return range && range[0] < 1 && range[1] > 1 ? `tie, rounds split: ${lead}` : lead;
}
