// `tandem bench --jobs`: many short jobs, a fresh pipeline each, as a service runs them. Per cell
// (chunks × chunk size): FIRST_JOB_CYCLES times the device pool is trimmed, reserve()d for the
// cell and one job timed on its own (the first job after reserve(): their median); then `jobs`
// more back to back (per-job median, p99 and jobs/s); then AFTER_IDLE.jobs jobs each after the
// host slept AFTER_IDLE.ms (their median: what a job costs a service that sat idle). Each job's
// wall runs from createPipeline() to the end of its run (the output of its last chunk on the
// host), the pipeline closed; the sink does nothing, as in the sweep. Ideal is the cell's chunks
// copied device → pinned back to back (copy alone, the median of IDEAL_REPEATS figures): the jobs
// are copy-bound (the synthetic kernel with no iterations only writes its output). The CuPy and
// PyTorch peers run the same kernel and ring per job, allocating it the way their users do: from
// CuPy's memory pools, from PyTorch's caching allocators. On a device with its own host clock
// (the fake's virtual one) the walls are timed on it, in the same time as the ideal; elsewhere on
// performance.now(). The table goes to stdout, the figures to OUT/results.json and the page to
// OUT/report.html (report.ts, kind 'jobs').
import path from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Device } from '../pipeline/device.js';
import { UsageError } from '../util/errors.js';
import { median } from '../util/median.js';
import { createPipeline } from '../pipeline/pipeline.js';
import type { ComputeChunk, PipelineStats } from '../pipeline/types.js';
import { syntheticKernel, syntheticLauncher } from '../workloads/synthetic.js';
import { timeAlone } from './alone.js';
import { LaunchRecorder, type PeerLaunch } from './capture.js';
import { runPeer, type PeerSpec } from './peers.js';
import { capture } from './sweep.js';
import { environment, type Environment } from './results.js';
import { writeJobsReport } from './report.js';

export interface JobsCell {
  chunks: number;
  chunkBytes: number;
}

/** The three shapes: many small chunks, the middle, few large ones. */
export const DEFAULT_JOB_CELLS: readonly JobsCell[] = [
  { chunks: 16, chunkBytes: 4 * 1024 ** 2 },
  { chunks: 16, chunkBytes: 16 * 1024 ** 2 },
  { chunks: 8, chunkBytes: 64 * 1024 ** 2 },
];

export const JOB_PEERS: readonly PeerSpec[] = [
  {
    name: 'cupy-jobs',
    script: 'cupy_jobs.py',
    description: 'CuPy, ring per job from its memory pools',
    perDepth: false,
  },
  {
    name: 'torch-jobs',
    script: 'torch_jobs.py',
    description: 'PyTorch, ring per job from its caching allocators (device and pinned host)',
    perDepth: false,
  },
];

/** Copy-alone figures per cell; the ideal is their median. */
const IDEAL_REPEATS = 5;
/** How often a cell's first job after trim() + reserve() is timed; the bench reports their median. */
export const FIRST_JOB_CYCLES = 5;
/** Jobs timed each after the host slept `ms`, the GPU idle meanwhile, after a cell's steady jobs. */
export const AFTER_IDLE = { ms: 30, jobs: 5 } as const;

export interface JobTimes {
  /**
   * The first job after reserve() (tandem: the median of FIRST_JOB_CYCLES, each after its own
   * trim() + reserve()), or the first in the process for this cell (the peers: their pools empty).
   */
  firstMs: number;
  /** The median of AFTER_IDLE.jobs jobs, each after the host slept AFTER_IDLE.ms, ms. */
  afterIdleMs: number;
  /** Those jobs' walls (ms), in the order run. */
  afterIdleWallsMs: number[];
  /** Median and p99 of the steady jobs (those after the first), ms. */
  medianMs: number;
  p99Ms: number;
  /** Steady jobs / the sum of their walls. */
  jobsPerSec: number;
  jobs: number;
  /** Each steady job's wall (ms), in the order run: `jobs` of them, the first job not among them. */
  wallsMs: number[];
}

/**
 * One cell (chunks × chunk size). Its own JobTimes are tandem's; the peers' sit under `peers`,
 * each with its steady walls (wallsMs) where it ran, else its status and why.
 */
export interface JobsCellResult extends JobTimes {
  /** chunks × chunk size, e.g. '16x4M' (jobKey). */
  key: string;
  chunks: number;
  chunkBytes: number;
  /** The ring depth tandem's 'auto' ran most (the peers run at it). */
  depth: number;
  /** Copy alone of the cell's chunks into pinned memory (ms), and the bandwidth it measured (GB/s). */
  idealMs: number;
  d2hGBps: number;
  peers: Record<string, JobTimes | { status: string; reason: string }>;
  /** Each first job after trim() + reserve() (ms), in the order run. */
  firstJobsMs: number[];
  /** Steady-state median / the faster peer's, and / ideal; first job / ideal. */
  vsFasterPeer: number | null;
  vsIdeal: number;
  firstVsIdeal: number;
  /** The job after idle time / the faster peer's (by its after-idle median). */
  afterIdleVsFasterPeer: number | null;
  /** The pool after the cell, and its pinned hits and misses over all the cell's jobs. */
  pool: { bytesPinned: number; bytesDevice: number; pinnedMisses: number; pinnedHits: number };
}

export interface JobsResults {
  jobsPerCell: number;
  /**
   * The process's first pipeline run (ms), kept out of the cells: its code runs for the first time
   * in the process, a cost a service pays once at start-up, not per job or per reserve().
   */
  processFirstMs: number;
  /**
   * Then `jobs` jobs of the first cell's shape, outside every cell, so that the cells time warm code,
   * as in a service that has run a while; their median wall (ms) says what a job costs before that.
   */
  warmUp: { jobs: number; medianMs: number };
  cells: JobsCellResult[];
}

export function summarizeJobs(firstMs: number, walls: readonly number[], afterIdle: readonly number[]): JobTimes {
  const s = [...walls].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  const total = walls.reduce((a, b) => a + b, 0);
  return {
    firstMs,
    afterIdleMs: median(afterIdle),
    afterIdleWallsMs: [...afterIdle],
    medianMs: at(0.5),
    p99Ms: at(0.99),
    jobsPerSec: total > 0 ? (walls.length * 1000) / total : 0,
    jobs: walls.length,
    wallsMs: [...walls],
  };
}

export async function runJobsBench(
  device: Device,
  options: {
    cells?: readonly JobsCell[];
    jobs: number;
    peers: boolean;
    out: string;
    log: (line: string) => void;
  },
): Promise<JobsResults> {
  const cells = options.cells ?? DEFAULT_JOB_CELLS;
  const recorder = new LaunchRecorder();
  const { program, kernel } = syntheticKernel(recorder.wrap(device));
  const results: JobsCellResult[] = [];
  // The device's host clock where it has one (the fake's virtual clock: walls in the same time as
  // its ideal, and the same every run), else performance.now().
  const now = device.hostNow ?? (() => performance.now());
  const launches: (PeerLaunch | null)[] = [];
  /** One cell's compute, and one job of it: a fresh pipeline over `chunks`, createPipeline() to close(). */
  const jobsOf = (cell: JobsCell) => {
    const launch = syntheticLauncher(device, kernel, cell.chunkBytes);
    const compute = (c: ComputeChunk<number>) => launch(c.stream, c.output, null, c.index, 0, 0);
    const job = async (chunks = cell.chunks): Promise<{ ms: number; stats: PipelineStats }> => {
      const t0 = now();
      const p = createPipeline<number>(device, { outputBytes: cell.chunkBytes, label: 'job', compute });
      const stats = await p.run(chunks);
      p.close();
      return { ms: now() - t0, stats };
    };
    return { compute, job };
  };
  let processFirstMs = 0;
  const warmUp = { jobs: options.jobs, medianMs: 0 };
  try {
    // The process's first run, apart, so that each cell's first job measures the pool alone; then
    // the warm-up, so that the cells measure warm code.
    const { job: warmJob } = jobsOf(cells[0]!);
    processFirstMs = (await warmJob(2)).ms;
    const warmWalls: number[] = [];
    for (let j = 0; j < warmUp.jobs; j++) warmWalls.push((await warmJob()).ms);
    warmUp.medianMs = median(warmWalls);
    options.log(
      `jobs: the process's first pipeline run (2 chunks of ${jobKey(cells[0]!)}) took ${processFirstMs.toFixed(2)} ms; ` +
        `${warmUp.jobs} warm-up jobs of ${jobKey(cells[0]!)} then, median ${warmUp.medianMs.toFixed(2)} ms`,
    );
    for (const cell of cells) {
      const { compute, job } = jobsOf(cell);
      launches.push((await capture(device, recorder, compute, cell.chunkBytes)).launch);
      // The median of IDEAL_REPEATS: a single figure of a millisecond's copies is at the host's mercy.
      const idealMs = median(
        await timeAlone(device, 'copy', {
          chunkBytes: cell.chunkBytes,
          chunks: cell.chunks,
          buffers: 2,
          repeats: IDEAL_REPEATS,
        }),
      );
      // Each first job has a fresh start: nothing pooled but what reserve() pins now.
      const before = device.pool.stats().pinned;
      const firstJobs: number[] = [];
      const ringSlots = Math.min(cell.chunks, 16);
      for (let k = 0; k < FIRST_JOB_CYCLES; k++) {
        device.pool.trim();
        device.reserve({
          pinnedBytes: ringSlots * cell.chunkBytes,
          deviceBytes: ringSlots * cell.chunkBytes,
          bufferBytes: cell.chunkBytes,
        });
        firstJobs.push((await job()).ms);
      }
      const walls: number[] = [];
      const depths = new Map<number, number>();
      for (let j = 0; j < options.jobs; j++) {
        const r = await job();
        walls.push(r.ms);
        depths.set(r.stats.depth, (depths.get(r.stats.depth) ?? 0) + 1);
      }
      const afterIdle: number[] = [];
      for (let j = 0; j < AFTER_IDLE.jobs; j++) {
        await sleep(AFTER_IDLE.ms);
        afterIdle.push((await job()).ms);
      }
      const depth = [...depths].sort((a, b) => b[1] - a[1])[0]![0];
      const t = summarizeJobs(median(firstJobs), walls, afterIdle);
      const st = device.pool.stats();
      const bytes = cell.chunks * cell.chunkBytes;
      results.push({
        key: jobKey(cell),
        chunks: cell.chunks,
        chunkBytes: cell.chunkBytes,
        depth,
        idealMs,
        d2hGBps: bytes / idealMs / 1e6,
        ...t,
        firstJobsMs: firstJobs,
        peers: {},
        vsFasterPeer: null,
        afterIdleVsFasterPeer: null,
        vsIdeal: t.medianMs / idealMs,
        firstVsIdeal: t.firstMs / idealMs,
        pool: {
          bytesPinned: st.bytesPinned,
          bytesDevice: st.bytesDevice,
          pinnedMisses: st.pinned.misses - before.misses,
          pinnedHits: st.pinned.hits - before.hits,
        },
      });
      options.log(
        `jobs ${results.at(-1)!.key}: first after reserve() ${firstJobs.map((x) => x.toFixed(2)).join(', ')} ms, ` +
          `median ${t.medianMs.toFixed(2)} ms, p99 ${t.p99Ms.toFixed(2)} ms, after ${AFTER_IDLE.ms} ms idle ` +
          `${t.afterIdleMs.toFixed(2)} ms, ideal ${idealMs.toFixed(2)} ms (depth ${depth})`,
      );
    }
  } finally {
    program.close();
  }
  if (options.peers && device.backend === 'cuda') await runJobPeers(device, results, launches, options);
  else
    for (const r of results)
      for (const p of JOB_PEERS)
        r.peers[p.name] = {
          status: 'skipped',
          reason: device.backend === 'fake' ? 'the peers need a GPU (--fake given)' : '--no-peers',
        };
  return { jobsPerCell: options.jobs, processFirstMs, warmUp, cells: results };
}

async function runJobPeers(
  device: Device,
  results: JobsCellResult[],
  launches: readonly (PeerLaunch | null)[],
  options: { jobs: number; out: string; log: (line: string) => void },
): Promise<void> {
  const kernel = launches.find((l) => l)?.kernel;
  const config = {
    device: device.ordinal,
    kernel,
    afterIdle: AFTER_IDLE,
    cells: results.map((r, k) => {
      const { kernel: _k, ...launch } = launches[k] ?? ({} as PeerLaunch);
      return { key: r.key, chunkBytes: r.chunkBytes, chunks: r.chunks, depth: r.depth, jobs: options.jobs, launch };
    }),
  };
  const file = path.join(options.out, 'jobs-peers-config.json');
  await writeFile(file, JSON.stringify(config, null, 2));
  for (const spec of JOB_PEERS) {
    const outcome = (await runPeer(spec, file, { log: options.log })) as
      | { status: 'ok'; cells: { key: string; firstMs: number; jobMs: number[]; afterIdleMs: number[] }[] }
      | { status: string; reason: string };
    for (const r of results) {
      if (outcome.status !== 'ok' || !('cells' in outcome)) {
        r.peers[spec.name] = { status: outcome.status, reason: (outcome as { reason: string }).reason };
        continue;
      }
      const c = outcome.cells.find((x) => x.key === r.key);
      r.peers[spec.name] = c
        ? summarizeJobs(c.firstMs, c.jobMs, c.afterIdleMs)
        : { status: 'failed', reason: 'no result for the cell' };
    }
  }
  for (const r of results) {
    const ran = Object.values(r.peers).filter((p): p is JobTimes => 'medianMs' in p);
    r.vsFasterPeer = ran.length ? r.medianMs / Math.min(...ran.map((p) => p.medianMs)) : null;
    r.afterIdleVsFasterPeer = ran.length ? r.afterIdleMs / Math.min(...ran.map((p) => p.afterIdleMs)) : null;
  }
}

/** '16x4M', '16x64K': chunks × chunk size. */
export function jobKey(cell: JobsCell): string {
  const MiB = 1024 ** 2;
  const size = cell.chunkBytes % MiB === 0 ? `${cell.chunkBytes / MiB}M` : `${cell.chunkBytes / 1024}K`;
  return `${cell.chunks}x${size}`;
}

/** The table printed on stdout. */
export function jobsTable(r: JobsResults): string {
  const f = (x: number) => x.toFixed(2);
  const times = (t: JobTimes) => `${f(t.medianMs)} / ${f(t.p99Ms)} / ${f(t.firstMs)} / ${f(t.afterIdleMs)}`;
  const peerCell = (p: JobTimes | { status: string } | undefined) =>
    p && 'medianMs' in p ? times(p) : (p?.status ?? '-');
  const rows = [
    [
      'job',
      'depth',
      'tandem median / p99 / first / idle ms',
      'jobs/s',
      'cupy-jobs',
      'torch-jobs',
      'ideal ms',
      '/peer',
      '/ideal',
      'first/ideal',
      'idle/peer',
    ],
    ...r.cells.map((c) => [
      c.key,
      String(c.depth),
      times(c),
      c.jobsPerSec.toFixed(0),
      peerCell(c.peers['cupy-jobs']),
      peerCell(c.peers['torch-jobs']),
      f(c.idealMs),
      c.vsFasterPeer === null ? '-' : c.vsFasterPeer.toFixed(3),
      c.vsIdeal.toFixed(3),
      c.firstVsIdeal.toFixed(3),
      c.afterIdleVsFasterPeer === null ? '-' : c.afterIdleVsFasterPeer.toFixed(3),
    ]),
  ];
  const w = rows[0]!.map((_, k) => Math.max(...rows.map((row) => row[k]!.length)));
  return rows.map((row) => row.map((v, k) => v.padEnd(w[k]!)).join('  ')).join('\n');
}

/** On the fake device: the same shapes, smaller (its kernels run in JS). */
export const FAKE_JOB_CELLS: readonly JobsCell[] = [
  { chunks: 16, chunkBytes: 64 * 1024 },
  { chunks: 16, chunkBytes: 256 * 1024 },
  { chunks: 8, chunkBytes: 1024 ** 2 },
];

export const JOBS_SCHEMA = 'tandem-jobs/1';

/** OUT/results.json of `tandem bench --jobs`, and the data its report page renders. */
export interface JobsDocument {
  schema: typeof JOBS_SCHEMA;
  /** The page's title: the device and the backend. */
  title: string;
  date: string;
  device: string;
  backend: 'cuda' | 'fake';
  environment: Environment;
  jobs: JobsResults;
  /** What the figures are, as the report states them. */
  notes: string[];
}

/** What the jobs are and how they are timed, for the page's notes. */
function jobsNotes(backend: 'cuda' | 'fake', results: JobsResults): string[] {
  const ran = results.cells.some((c) => Object.values(c.peers).some((p) => 'medianMs' in p));
  return [
    'Each job is a fresh pipeline: createPipeline(), run() over the cell’s chunks, close(). Its wall runs from ' +
      'createPipeline() to close() returning, the host holding its last chunk’s output; the sink does nothing (it ' +
      'only releases each slot), as in the sweep.',
    `The process’s first pipeline run (2 chunks of the first cell) ran before the cells, apart: ` +
      `${results.processFirstMs.toFixed(2)} ms, its code still cold (a once-per-process cost, not a per-job one). ` +
      `Then ${results.warmUp.jobs} warm-up jobs of that cell, outside every cell (median ` +
      `${results.warmUp.medianMs.toFixed(2)} ms), so that the cells time warm code, as in a service that ` +
      'has run a while.',
    `${FIRST_JOB_CYCLES} times per cell the device’s pool is trimmed, reserve() pins the cell’s ring ` +
      '(min(chunks, 16) pinned and device buffers of the chunk size) and the first job after it is timed apart: ' +
      `first is their median. Then ${results.jobsPerCell} steady jobs back to back give the median, p99 and ` +
      `jobs/s (steady jobs / the sum of their walls); then ${AFTER_IDLE.jobs} jobs, each after the host slept ` +
      `${AFTER_IDLE.ms} ms with the GPU idle, give idle (their median): the job of a service that sat idle.`,
    `Ideal = the cell’s chunks copied device → pinned back to back on one stream (copy alone; the median of ` +
      `${IDEAL_REPEATS} figures): the synthetic ` +
      'kernel with no iterations only writes its output, so the jobs are copy-bound. /ideal is the steady median ' +
      'over it, first/ideal the first job’s wall over it.',
    ...(ran
      ? [
          'The peers run the same kernel with a ring per job at tandem’s depth: CuPy from its memory pools, ' +
            'PyTorch from its caching allocators (device and pinned host): each its first job in the process for ' +
            'the cell apart (its pools empty, so not comparable with tandem’s first after reserve()), then as many ' +
            'steady jobs and as many jobs after idle time. /peer is tandem’s steady median over the faster peer’s, ' +
            'idle/peer its after-idle median over the faster peer’s.',
        ]
      : []),
    ...(backend === 'fake'
      ? [
          'Fake device: every wall and the ideal are its virtual clock’s times (the same every run); use these ' +
            'files to check the tooling, not for figures.',
        ]
      : []),
  ];
}

/**
 * `tandem bench --jobs [count]`: the jobs table on stdout, the figures in OUT/results.json under
 * `jobs` (with the device and environment beside them) and the page in OUT/report.html.
 */
export async function runJobsMode(
  p: { fake: boolean; peers: boolean; out: string },
  count: string | number | boolean,
  openDevice: () => Promise<{ device: Device; env: Partial<Environment> }>,
  log: (line: string) => void,
): Promise<JobsResults> {
  const jobs = count === true || count === '' ? (p.fake ? 20 : 200) : Number(count);
  if (!Number.isInteger(jobs) || jobs < 1)
    throw new UsageError(`--jobs: a count of jobs per cell (1 or more); got ${String(count)}`);
  const { device, env } = await openDevice();
  try {
    await mkdir(p.out, { recursive: true });
    const results = await runJobsBench(device, {
      jobs,
      peers: p.peers,
      out: p.out,
      log,
      cells: device.backend === 'fake' ? FAKE_JOB_CELLS : DEFAULT_JOB_CELLS,
    });
    const file = path.join(p.out, 'results.json');
    const report = path.join(p.out, 'report.html');
    const doc: JobsDocument = {
      schema: JOBS_SCHEMA,
      title: `tandem bench --jobs — ${device.properties.name} (${device.backend})`,
      date: new Date().toISOString(),
      device: device.properties.name,
      backend: device.backend,
      environment: environment(device, env),
      jobs: results,
      notes: jobsNotes(device.backend, results),
    };
    await writeFile(file, `${JSON.stringify(doc, null, 2)}\n`);
    await writeJobsReport(report, doc);
    log(`wrote ${file}, ${report}`);
    return results;
  } finally {
    device.close();
  }
}
