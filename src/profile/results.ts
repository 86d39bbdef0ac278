// The machine-readable results of a run or a sweep: what ran where (environment), each cell's
// configuration, statistics and metrics, the peers' figures, and the timelines the report draws.
// One JSON document; the HTML report embeds exactly this and renders from it.
import { writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { DeviceProperties } from '../core/types.js';
import type { ChunkTiming, PipelineMode, PipelineStats } from '../pipeline/types.js';
import { computeMetrics, type MetricsOptions, type RunMetrics } from './metrics.js';
import type { UtilizationSample, UtilizationSummary } from './nvml-sampler.js';

export const RESULTS_SCHEMA = 'tandem-results/1';

export interface Environment {
  tandemVersion: string;
  node: string;
  platform: string;
  arch: string;
  hostname: string;
  cpus: number;
  backend: 'cuda' | 'fake';
  device: DeviceProperties | null;
  /** cuDriverGetVersion, e.g. 13000; null on the fake device. */
  driverVersion: number | null;
  nvrtcVersion: string | null;
}

/** A peer's figure for one cell, as its script printed it. */
export interface PeerCell {
  wallMs: number;
  /**
   * max(compute alone, copy alone) / wall: the stages alone measured in the peer's own process
   * (a batch peer run by hand), or tandem's for the cell (the interleaved peers, and torch-habit
   * in tandem bench; their alone figures are null).
   */
  efficiency: number | null;
  computeAloneMs: number | null;
  copyAloneMs: number | null;
  bytes: number;
  /** Chunks the peer really ran, when fewer than the cell's: its wall is scaled to the cell. */
  chunksRun?: number;
  /** Peer wall / tandem wall: above 1 means tandem was faster (medians when repeated). */
  tandemSpeedup?: number;
  /** Run right after each of tandem's runs of the cell (tandem bench), not in a batch at the end. */
  interleaved?: boolean;
  /** Every wall when the cell was repeated; wallMs is their median. */
  walls?: number[];
  /** Lowest and highest per-round ratio (each peer run / the tandem run just before it). */
  ratioRange?: [number, number];
  /** The ring depth the peer ran at (interleaved peers: the reported one of depthsRun). */
  depth?: number;
  /**
   * Interleaved at two depths (tandem's pinned and device slots): each one's median wall and how
   * many rounds ran it (both in the first, then only the faster one).
   */
  depthsRun?: { depth: number; wallMs: number; runs?: number }[];
}

export interface Cell {
  id: string;
  workload: string;
  mode: PipelineMode;
  depth: number;
  /** Compute/copy ratio asked for (synthetic workload); null for other workloads. */
  ratio: number | null;
  /** Kernel / D2H time measured alone in this run. */
  measuredRatio: number | null;
  chunkBytes: number;
  chunks: number;
  /** Workload parameters (e.g. the synthetic kernel's iters). */
  params: Record<string, unknown>;
  /** Each stage run alone over the same chunks, in this run. */
  alone: { computeMs: number | null; copyMs: number | null } | null;
  /** The untraced run: the headline figures. */
  stats: Omit<PipelineStats, 'timeline'>;
  /** max(stage alone) / untraced wall: the headline efficiency. */
  efficiency: number | null;
  /** Copy throughput of the untraced run over the pinned D2H peak measured alone. */
  copyOfPeak: number | null;
  /** The traced run's metrics (busy fractions, strict utilisation, gaps). */
  traced: { wallMs: number; metrics: RunMetrics } | null;
  /** (traced wall − untraced wall) / chunks, microseconds. */
  traceCostPerChunkUs: number | null;
  /** NVML utilization.gpu during the untraced run. */
  nvml: UtilizationSummary | null;
  /** Every untraced wall when the cell was repeated (--repeats); stats is the median run's. */
  walls?: number[];
  peers: Record<string, PeerCell>;
}

export interface PeerStatus {
  name: string;
  description: string;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
}

export interface TimelineRecord {
  cellId: string;
  label: string;
  mode: PipelineMode;
  depth: number;
  /** The first chunks only when the run had more than the report keeps. */
  truncatedFrom?: number;
  timeline: ChunkTiming[];
  utilization: { t: number; gpu: number }[];
}

export interface Results {
  schema: typeof RESULTS_SCHEMA;
  /**
   * What produced the results, which picks the report's page: a sweep of cells (bench, the
   * default when absent), a `tandem render`, or one library run (singleRunResults).
   */
  kind?: 'bench' | 'render' | 'run';
  title: string;
  date: string;
  command: string[];
  environment: Environment;
  config: Record<string, unknown>;
  cells: Cell[];
  peers: PeerStatus[];
  timelines: TimelineRecord[];
  notes: string[];
  files: { results?: string; trace?: string; report?: string };
}

/** The version in package.json (the one installed, found from this file). */
export function tandemVersion(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'tandem' && pkg.version) return pkg.version;
    } catch {
      // not at this level of the tree (src/ vs dist/src/)
    }
  }
  return 'unknown';
}

export function environment(
  device: { backend: 'cuda' | 'fake'; properties: DeviceProperties } | null,
  extra: Partial<Environment> = {},
): Environment {
  return {
    tandemVersion: tandemVersion(),
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    hostname: os.hostname(),
    cpus: os.cpus().length,
    backend: device?.backend ?? 'fake',
    device: device?.properties ?? null,
    driverVersion: null,
    nvrtcVersion: null,
    ...extra,
  };
}

/** Stats without the (large) timeline, for the cell records. */
export function withoutTimeline(stats: PipelineStats): Omit<PipelineStats, 'timeline'> {
  const { timeline: _timeline, ...rest } = stats;
  return rest;
}

export function timelineRecord(
  cellId: string,
  label: string,
  stats: PipelineStats,
  utilization: readonly UtilizationSample[] = [],
  maxChunks = 1000,
): TimelineRecord | null {
  if (!stats.timeline) return null;
  const tl = stats.timeline;
  return {
    cellId,
    label,
    mode: stats.mode,
    depth: stats.depth,
    ...(tl.length > maxChunks ? { truncatedFrom: tl.length } : {}),
    timeline: tl.slice(0, maxChunks),
    utilization: utilization.map((s) => ({ t: s.t, gpu: s.gpu })),
  };
}

/**
 * Results of a single pipeline run (e.g. `tandem render --report`): one cell whose headline is
 * the run itself, with the timeline if it was traced.
 */
export function singleRunResults(
  stats: PipelineStats,
  options: {
    title?: string;
    workload?: string;
    device?: { backend: 'cuda' | 'fake'; properties: DeviceProperties } | null;
    environment?: Partial<Environment>;
    utilization?: readonly UtilizationSample[];
    utilizationSummary?: UtilizationSummary | null;
    metrics?: MetricsOptions;
    params?: Record<string, unknown>;
    command?: string[];
  } = {},
): Results {
  const metrics = computeMetrics(stats, options.metrics);
  const id = `${stats.mode}-d${stats.depth}`;
  const cell: Cell = {
    id,
    workload: options.workload ?? 'custom',
    mode: stats.mode,
    depth: stats.depth,
    ratio: null,
    measuredRatio: null,
    chunkBytes: stats.chunks > 0 ? stats.bytesOut / stats.chunks : 0,
    chunks: stats.chunks,
    params: options.params ?? {},
    alone: null,
    stats: withoutTimeline(stats),
    efficiency: metrics.efficiency,
    copyOfPeak: metrics.copyThroughput.ofPeak,
    traced: stats.timeline ? { wallMs: stats.wallMs, metrics } : null,
    traceCostPerChunkUs: null,
    nvml: options.utilizationSummary ?? null,
    peers: {},
  };
  const tl = timelineRecord(id, `${stats.mode}, depth ${stats.depth}`, stats, options.utilization ?? []);
  return {
    schema: RESULTS_SCHEMA,
    kind: 'run',
    title: options.title ?? `tandem ${options.workload ?? 'run'}`,
    date: new Date().toISOString(),
    command: options.command ?? process.argv.slice(1),
    environment: environment(options.device ?? null, options.environment),
    config: {},
    cells: [cell],
    peers: [],
    timelines: tl ? [tl] : [],
    notes: stats.timeline
      ? ['Figures come from a traced run (per-chunk timing events on): they include the tracing cost.']
      : [],
    files: {},
  };
}

export async function writeResults(path: string, results: Results): Promise<void> {
  await writeFile(path, `${JSON.stringify(results, null, 2)}\n`);
}
