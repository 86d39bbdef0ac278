// `tandem bench`: sweeps mode × depth × compute/copy ratio × chunk size, prints a table on stdout
// (or the results JSON with --json), progress on stderr, and writes results.json, trace.json and
// report.html into --out. The PyTorch and CuPy peers run on the same cells with the same kernel
// (--no-peers skips them); --fake runs everything on the fake device (CI, or trying it without a
// GPU), as does a host with no usable GPU unless --gpu (backend.ts).
import type { CAC } from 'cac';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AbortError, UsageError } from '../../util/errors.js';
import { parseBytes } from '../../util/format.js';
import { MakeDirectoryError, makeDirectory } from '../../util/make-directory.js';
import type { Device } from '../../pipeline/device.js';
import { GPU_OPTION_HELP, useFakeDevice } from '../backend.js';
import type { PipelineMode } from '../../pipeline/types.js';
import { benchWorkload, BENCH_WORKLOADS, FAKE_COPY_BYTES_PER_MS } from '../../profile/bench-workloads.js';
import { parseDeviceList, openDeviceList, type DeviceList } from '../device-list.js';
import { nvmlUtilizationReader } from '../../profile/nvml-sampler.js';
import {
  attachPeerResults,
  PEERS,
  pythonCommand,
  writePeerConfig,
  type PeerCellConfig,
  type PeerConfig,
} from '../../profile/peers.js';
import { startPeers, type InterleavedPeers } from '../../profile/peer-interleave.js';
import { writeReport } from '../../profile/report.js';
import {
  environment,
  RESULTS_SCHEMA,
  writeResults,
  type Environment,
  type PeerStatus,
  type Results,
} from '../../profile/results.js';
import { copyDriftNote } from '../../profile/drift.js';
import { cellKey, runSweep, type DepthSpec, type SweepConfig } from '../../profile/sweep.js';
import { resultsTable, traceCostText, traceNoiseUs } from '../../profile/table.js';
import { writeTraceRuns } from '../../profile/trace.js';
import { jobsTable, runJobsMode } from '../../profile/jobs.js';

export interface BenchOptions {
  workload?: string;
  modes?: string;
  depths?: string | number;
  ratios?: string | number;
  sizes?: string | number;
  chunks?: string | number;
  repeats?: string | number;
  device?: string | number;
  devices?: string | number;
  peers?: boolean;
  fake?: boolean;
  gpu?: boolean;
  json?: boolean;
  out?: string;
  trace?: boolean;
  jobs?: string | number | boolean;
}

/** '64M', '4MiB', '512K', '1048576' → bytes for --sizes: at least 1 KiB, a multiple of 4. */
export function parseSize(text: string): number {
  const bytes = parseBytes(text, '--sizes');
  if (!(bytes >= 1024)) throw new UsageError(`--sizes: ${text} is too small; use at least 1K`);
  if (bytes % 4 !== 0) throw new UsageError(`--sizes: ${text} is not a multiple of 4 bytes`);
  return bytes;
}

function list(value: string | number | undefined, name: string): string[] {
  if (value === undefined) return [];
  const items = String(value)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${name} is empty; give a comma-separated list`);
  return items;
}

function positiveNumbers(value: string | number | undefined, name: string, integer: boolean): number[] {
  return list(value, name).map((s) => {
    const v = Number(s);
    if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
      throw new UsageError(`--${name}: '${s}' is not a positive ${integer ? 'integer' : 'number'}`);
    }
    return v;
  });
}

export interface ParsedBench {
  workload: string;
  modes: PipelineMode[];
  depths: DepthSpec[];
  ratios: number[];
  sizes: number[];
  chunks: number | null;
  /** Untraced runs per overlap cell, each followed by the stream peers' runs; median reported. */
  repeats: number;
  device: number;
  /** --devices: the ordinals of one pipeline each (a GPU may repeat), or null for --device alone. */
  devices: DeviceList | null;
  peers: boolean;
  fake: boolean;
  json: boolean;
  out: string;
  trace: boolean;
}

export function parseBenchOptions(o: BenchOptions, now = new Date()): ParsedBench {
  const fake = !!o.fake;
  const modes = [...new Set(list(o.modes ?? 'overlap,serial', 'modes'))].map((m) => {
    if (m !== 'overlap' && m !== 'serial')
      throw new UsageError(`--modes: unknown mode '${m}'; use overlap and/or serial`);
    return m as PipelineMode;
  });
  const depths: DepthSpec[] = [...new Set(list(o.depths ?? '2,auto', 'depths'))].map((d) => {
    if (d === 'auto') return 'auto';
    const v = Number(d);
    if (!Number.isInteger(v) || v < 1 || v > 16)
      throw new UsageError(`--depths: '${d}' is not a depth; use integers 1..16 or auto`);
    return v;
  });
  const ratios = [...new Set(positiveNumbers(o.ratios ?? '0.5,1,2', 'ratios', false))];
  const sizes = [...new Set(list(o.sizes ?? (fake ? '256K,64K' : '64M,4M'), 'sizes').map(parseSize))];
  const chunks = o.chunks === undefined || o.chunks === 'auto' ? null : positiveNumbers(o.chunks, 'chunks', true)[0]!;
  if (chunks !== null && chunks < 2)
    throw new UsageError('--chunks: use at least 2 chunks so there is something to overlap');
  const repeats = positiveNumbers(o.repeats ?? DEFAULT_REPEATS, 'repeats', true)[0]!;
  if (repeats > 99)
    throw new UsageError(
      `--repeats: ${repeats} is more than 99; 5 already puts the median within the spread of a steady host`,
    );
  const device = Number(o.device ?? 0);
  if (!Number.isInteger(device) || device < 0)
    throw new UsageError(`--device: '${o.device}' is not a device ordinal; \`tandem info\` lists them`);
  const workload = String(o.workload ?? 'synthetic');
  if (!BENCH_WORKLOADS.includes(workload))
    throw new UsageError(`--workload: unknown workload '${workload}'; built in: ${BENCH_WORKLOADS.join(', ')}`);
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return {
    workload,
    modes,
    depths,
    ratios,
    sizes,
    chunks,
    repeats,
    device,
    devices: o.devices === undefined ? null : parseDeviceList(o.devices),
    // The peers run unless --no-peers (on the fake device they are listed as skipped).
    peers: o.peers !== false,
    fake,
    json: !!o.json,
    out: path.resolve(benchOut(o.out) ?? `tandem-bench-${stamp}`),
    trace: o.trace !== false,
  };
}

/** --out: a directory for three files, so not stdout ('-'); --json puts the results there. */
function benchOut(out: string | undefined): string | undefined {
  if (out === '-' || out === 'pipe:' || out === 'pipe:1')
    throw new UsageError(
      `--out ${out}: bench writes results.json, trace.json and report.html into a directory; give one, and --json for the results on stdout`,
    );
  return out;
}

/** Untraced runs per overlap cell by default: the median of 3 with the peers interleaved. */
export const DEFAULT_REPEATS = 3;

/**
 * Chunks per cell when --chunks is not given: 8 GiB a cell, so the default sweep with its peers
 * stays short on a current GPU. The fill and the drain
 * cost about one chunk's non-bottleneck stage, so efficiency is at most N / (N + min(r, 1/r)) at
 * compute/copy ratio r: 0.996 for 128 chunks of 64 MiB at r = 2 or 0.5, 0.992 at r = 1 (a run
 * that measures the 0.999 target needs --chunks 1024 or more). 64..4096 chunks.
 */
export function defaultChunks(chunkBytes: number, fake: boolean): number {
  if (fake) return 24;
  return Math.min(4096, Math.max(64, Math.ceil((8 * 1024 ** 3) / chunkBytes)));
}

/**
 * The bench's fake device: copies slow enough that its virtual GPU times dominate, and a purely
 * virtual clock, so the host's real time (JIT warm-up, garbage collection, a loaded machine) never
 * enters a figure and two runs print the same table.
 */
const FAKE_BENCH_DEVICE = { copyBytesPerMs: FAKE_COPY_BYTES_PER_MS, clock: 'virtual' } as const;

async function openDevice(p: ParsedBench): Promise<{ device: Device; env: Partial<Environment> }> {
  if (p.fake) {
    const { FakeDevice } = await import('../../testing/index.js');
    return { device: new FakeDevice({ ordinal: p.device, ...FAKE_BENCH_DEVICE }), env: {} };
  }
  const { open } = await import('../../pipeline/device.js');
  const device = await open(p.device);
  const env: Partial<Environment> = {};
  try {
    const { driver } = await import('../../cuda/driver.js');
    const v = [0];
    if (driver().cuDriverGetVersion(v) === 0) env.driverVersion = v[0]!;
  } catch {
    // reported as unknown
  }
  try {
    const { nvrtcVersion } = await import('../../cuda/nvrtc.js');
    const v = nvrtcVersion();
    env.nvrtcVersion = `${v.major}.${v.minor}`;
  } catch {
    // reported as unknown
  }
  return { device, env };
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** The devices of the run: --device alone, or --devices (one pipeline per entry). */
async function openBenchDevices(p: ParsedBench): Promise<{
  device: Device;
  devices: Device[];
  ordinals: number[];
  env: Partial<Environment>;
  close(): Promise<void>;
}> {
  if (p.devices === null) {
    const { device, env } = await openDevice(p);
    return {
      device,
      devices: [device],
      ordinals: [p.device],
      env,
      async close() {
        await device.synchronize().catch(() => undefined);
        device.close();
      },
    };
  }
  const opened = await openDeviceList(p.devices, {
    fake: p.fake,
    fakeOptions: { ...FAKE_BENCH_DEVICE },
  });
  const env: Partial<Environment> = {};
  if (!p.fake) {
    // Driver and NVRTC versions as the single-device path reports them.
    const single = await openDevice({ ...p, device: opened.ordinals[0]! }).catch(() => null);
    if (single) {
      Object.assign(env, single.env);
      single.device.close();
    }
  }
  return { device: opened.devices[0]!, devices: opened.devices, ordinals: opened.ordinals, env, close: opened.close };
}

export async function runBench(
  p: ParsedBench,
  argv: string[] = process.argv.slice(2),
  signal?: AbortSignal,
): Promise<Results> {
  const started = performance.now();
  const { device, devices, ordinals, env, close } = await openBenchDevices(p);
  const multi = devices.length > 1;
  const peerStatus: PeerStatus[] = [];
  let interleaved: InterleavedPeers | null = null;
  // The peers end (Python's shutdown with torch takes most of a second) while the results,
  // trace and report are written; awaited before returning.
  let peersClosing: Promise<void> | null = null;
  let results: Results;
  try {
    try {
      makeDirectory(p.out);
    } catch (err) {
      throw err instanceof MakeDirectoryError ? new UsageError(`--out: ${err.message}`) : err;
    }
    const workload = await benchWorkload(p.workload, device.backend);
    const utilization =
      device.backend === 'cuda'
        ? nvmlUtilizationReader(device.properties.pciBusId)
        : { read: null, reason: 'fake device' };
    if (!utilization.read) log(`NVML utilization.gpu not sampled: ${utilization.reason}`);
    const config: SweepConfig = {
      modes: p.modes,
      depths: p.depths,
      ratios: p.ratios,
      sizes: p.sizes,
      chunks: (bytes) => p.chunks ?? defaultChunks(bytes, p.fake),
      warmupChunks: 4,
      repeats: p.repeats,
      traced: p.trace,
      // Every traced cell's timeline: the report's picker shows any of them.
      showcase: () => true,
      maxTimelineChunks: 1000,
    };
    log(
      `tandem bench on ${device.properties.name}${device.backend === 'fake' ? ' (fake device: virtual times, not GPU figures)' : ''}; results in ${p.out}`,
    );
    if (multi)
      log(
        `--devices ${ordinals.join(',')}: ${devices.length} pipelines on ${new Set(devices).size} device(s); chunks dealt to whichever frees a slot first`,
      );
    const peersHere = p.peers && !multi && device.backend === 'cuda';
    if (peersHere) {
      log(
        `peers: ${pythonCommand()} bench/peers/*.py; the stream peers run right after each of tandem's runs, the habit after the sweep`,
      );
      const t = performance.now();
      interleaved = await startPeers(p.device, { warmupChunks: PEER_WARMUP, log });
      log(`peers started in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    const sweep = await runSweep(device, workload, config, {
      log,
      utilization,
      signal,
      devices,
      ...(interleaved ? { peers: interleaved } : {}),
    });

    if (p.peers) {
      if (multi) {
        for (const s of PEERS)
          peerStatus.push({
            name: s.name,
            description: s.description,
            status: 'skipped',
            reason: 'the peers drive one GPU; run without --devices to compare',
          });
      } else if (device.backend === 'fake') {
        for (const s of PEERS)
          peerStatus.push({
            name: s.name,
            description: s.description,
            status: 'skipped',
            reason: 'the peers need a GPU (ran on the fake device)',
          });
      } else if (interleaved) {
        peerStatus.push(...interleaved.status());
        const t = performance.now();
        await runBatchPeers(p, sweep, interleaved, peerStatus);
        log(`batch peers (after the sweep) took ${((performance.now() - t) / 1000).toFixed(1)} s`);
        peersClosing = interleaved.close();
        interleaved = null;
        // The table's columns in the PEERS order.
        peerStatus.sort(
          (a, b) => PEERS.findIndex((s) => s.name === a.name) - PEERS.findIndex((s) => s.name === b.name),
        );
      }
      for (const s of peerStatus) log(`peer ${s.name}: ${s.status}${s.reason ? ` (${s.reason})` : ''}`);
    }

    const driftNote = copyDriftNote(sweep.copyDrift);
    if (driftNote) log(`warning: ${driftNote}`);
    const measured = sweep.cells.filter(
      (c): c is typeof c & { traceCostPerChunkUs: number } =>
        typeof c.traceCostPerChunkUs === 'number' && Number.isFinite(c.traceCostPerChunkUs),
    );
    const costs = measured.map((c) => c.traceCostPerChunkUs).sort((a, b) => a - b);
    const noises = measured.map(traceNoiseUs).sort((a, b) => a - b);
    const traceCostUs = costs.length ? costs[costs.length >> 1]! : null;
    if (traceCostUs !== null) {
      const text = traceCostText(traceCostUs, noises[noises.length >> 1]!);
      log(
        `tracing cost: median ${/\d$/.test(text) ? `${text} µs per chunk` : text} over ${costs.length} cells ` +
          "(traced wall − untraced wall, per chunk, against the untraced runs' spread); headline figures are from the untraced runs",
      );
    }
    results = {
      schema: RESULTS_SCHEMA,
      title: `tandem bench — ${workload.name} on ${device.properties.name}`,
      date: new Date().toISOString(),
      command: ['tandem', ...argv],
      environment: environment(device, env),
      config: {
        workload: p.workload,
        modes: p.modes,
        depths: p.depths,
        ratios: p.ratios,
        sizes: p.sizes,
        chunks: p.chunks ?? 'auto',
        repeats: p.repeats,
        devices: ordinals,
        warmupChunks: config.warmupChunks,
        sink: 'none (the host stage only releases each slot)',
        nvml: sweep.utilization,
        traceCostMedianUsPerChunk: traceCostUs,
        copyDrift: sweep.copyDrift,
      },
      cells: sweep.cells,
      peers: peerStatus,
      timelines: sweep.timelines,
      notes: [
        ...(driftNote ? [driftNote] : []),
        'Efficiency = max(compute alone, D2H alone) / wall of the untraced pipeline run; each stage alone is ' +
          'the same chunks back to back on one stream, queued behind a hold kernel so the two timing events ' +
          'bracket GPU time only (no host launch cost), in the same process. The ratio calibration measures ' +
          'the same way.',
        'Where the copy can bound a cell (D2H alone ≥ 0.8 × compute alone), D2H alone is measured again ' +
          'right after the cell’s untraced run and the cell’s copy ideal is the fastest D2H alone measured at ' +
          'that size so far (the pinned peak): copy bandwidth into fresh pinned memory drifts by up to ~10% on ' +
          'the H100 host.',
        ...(multi
          ? [
              `--devices ${ordinals.join(',')}: one pipeline per entry; efficiency = max(stage alone on one ` +
                'device) / (distinct GPUs) / wall; traced runs and peers are single-device only and were skipped.',
            ]
          : []),
        'Busy fractions, strict kernel utilisation and idle gaps come from one more run of the same cell, ' +
          'traced (per-chunk timing events), on the same pipeline and ring after the untraced runs; the ' +
          'difference of its wall and the untraced one, per chunk, is the tracing cost shown.',
        'Strict kernel utilisation = Σ kernel busy / (last kernel end − first kernel start): the fill before ' +
          'the first kernel and the drain after the last are excluded.',
        'NVML utilization.gpu (sampled every 20 ms) counts time in which any kernel ran, over NVML’s own ' +
          'averaging window: it is the coarse figure, shown beside the strict one.',
        'Before each measured run, tandem’s process runs a full garbage collection and each stream peer ' +
          'calls gc.collect(): garbage the harness made (a traced run’s timeline, results) is not collected ' +
          'inside a run; collections the run itself causes still count.',
        ...(p.repeats > 1
          ? [
              `Each overlap cell ran ${p.repeats} times untraced; its figures are from the run with the median ` +
                `wall (all walls in results.json: walls), and each peer's wall is the median of its ${p.repeats} ` +
                'runs.',
            ]
          : []),
        ...(p.peers
          ? [
              'Peers run in the same invocation, same chunk sizes and counts, same CUDA source and launch ' +
                '(compiled by CuPy’s NVRTC). The stream peers (torch-sketch, cupy-streams) each run in one process ' +
                'started before the sweep, right after each of tandem’s untraced runs of a cell and at the depth ' +
                'tandem ran, so both see the same host and the same copy bandwidth (where tandem’s ring had fewer ' +
                'device slots than pinned slots, shown as d16/3, the peers also run at the smaller depth in the ' +
                'first round, and in later rounds each only at whichever of the two was faster for it in the first; ' +
                'the depth it ran in the most rounds is reported, each depth’s median and run count are in ' +
                'depthsRun); their efficiency is against tandem’s stages alone for the cell; peer/tandem above 1 ' +
                'means tandem was faster (medians; ratioRange in results.json: each peer run against the tandem run ' +
                'just before it); "fastest" names the quickest of tandem and the peers in that cell and its lead ' +
                'over the next, prefixed "tie, rounds split" where tandem and the runner-up each won some of the ' +
                'paired rounds.',
              `torch-habit runs at most ${HABIT_MAX_BYTES / 1024 ** 2} MiB of a cell's chunks (at least 8) and its ` +
                `wall is scaled to the cell's chunk count (chunksRun in results.json): one stream, a blocking copy ` +
                'per chunk, nothing carried between chunks; its efficiency is against tandem’s stages alone for the ' +
                'cell, like the stream peers’.',
            ]
          : []),
        ...(device.backend === 'fake'
          ? ['Fake device: kernel and copy times are virtual; use these files to check the tooling, not for figures.']
          : []),
      ],
      files: {
        results: path.join(p.out, 'results.json'),
        trace: path.join(p.out, 'trace.json'),
        report: path.join(p.out, 'report.html'),
      },
    };
    await writeResults(results.files.results!, results);
    await writeTraceRuns(
      results.files.trace!,
      sweep.timelines.map((t) => ({ label: t.label, timeline: t.timeline, utilization: t.utilization })),
      { tandemVersion: results.environment.tandemVersion, device: device.properties.name, date: results.date },
    );
    await writeReport(results.files.report!, results);
  } finally {
    await Promise.all([peersClosing ?? interleaved?.close(), close()]);
  }
  // After the peers' exit and the device's release: the time the command took, bar node's start.
  log(`tandem bench: ${((performance.now() - started) / 1000).toFixed(1)} s in all`);
  return results;
}

/**
 * torch-habit (out.cpu() per chunk, ~45× slower than a pipeline at 64 MiB) runs at most 512 MiB
 * of a cell and scales its wall to the cell's chunks: it carries nothing between chunks.
 */
const HABIT_MAX_BYTES = 512 * 1024 ** 2;

/** Chunks each peer launches before timing a cell's stages alone. */
const PEER_WARMUP = 3;

/**
 * The peers that run once per cell after the sweep (torch-habit), and peers-config.json for
 * rerunning any peer by hand in batch mode.
 */
async function runBatchPeers(
  p: ParsedBench,
  sweep: Awaited<ReturnType<typeof runSweep>>,
  peers: InterleavedPeers,
  status: PeerStatus[],
): Promise<void> {
  const usable = sweep.peerCells.filter((c) => c.launch);
  if (usable.length === 0) {
    const reason = sweep.peerCells[0]?.reason ?? 'no cells';
    for (const s of PEERS) {
      const why = `the workload's launches cannot be replayed: ${reason}`;
      const known = status.find((x) => x.name === s.name);
      if (known) Object.assign(known, { status: 'skipped', reason: why });
      else status.push({ name: s.name, description: s.description, status: 'skipped', reason: why });
    }
    return;
  }
  // Each peer runs, in each cell, the depths tandem ran there ('auto' resolved per cell).
  const depthsOf = (key: string) =>
    [
      ...new Set(
        sweep.cells
          .filter((c) => c.mode === 'overlap' && cellKey(c.chunkBytes, c.ratio) === key)
          .flatMap((c) => [c.depth, c.stats.deviceSlots ?? c.depth]),
      ),
    ].sort((a, b) => a - b);
  const first = usable[0]!.launch!;
  const cells: PeerCellConfig[] = usable
    .filter((c) => c.launch!.kernel.source === first.kernel.source && c.launch!.kernel.name === first.kernel.name)
    .map((c) => {
      const { kernel: _kernel, ...launch } = c.launch!;
      const depths = depthsOf(c.key);
      return { key: c.key, chunkBytes: c.chunkBytes, chunks: c.chunks, depths: depths.length ? depths : [2], launch };
    });
  // Kept beside the results: `python3 bench/peers/<peer>.py OUT/peers-config.json` reruns a peer.
  const config: PeerConfig = {
    device: p.device,
    warmupChunks: PEER_WARMUP,
    habitMaxBytes: HABIT_MAX_BYTES,
    kernel: first.kernel,
    cells,
  };
  await writePeerConfig(path.join(p.out, 'peers-config.json'), config);
  // The file keeps the default (a rerun by hand times the stages alone); here the habit skips
  // that (~2 s of a default run) and its efficiency is against tandem's stages alone of the cell.
  for (const { spec, outcome } of await peers.batch({ ...config, alone: false })) {
    if (outcome.status !== 'ok') {
      status.push({ name: spec.name, description: spec.description, status: outcome.status, reason: outcome.reason });
      continue;
    }
    status.push({ name: spec.name, description: spec.description, status: 'ok' });
    attachPeerResults(sweep.cells, spec.name, outcome.cells);
  }
}

export function registerBench(cli: CAC): void {
  cli
    .command('bench', 'Sweep mode × depth × compute/copy ratio × chunk size; write results, trace and report')
    .option('--workload <name>', `Workload to run (${BENCH_WORKLOADS.join(', ')})`, { default: 'synthetic' })
    .option('--modes <list>', 'Pipeline modes: overlap,serial', { default: 'overlap,serial' })
    .option(
      '--depths <list>',
      'Ring depths for overlap (1..16 or auto: the depth tandem picks, resolved per cell; d16/3 in the table: 16 pinned slots, 3 of them with device buffers)',
      { default: '2,auto' },
    )
    .option('--ratios <list>', 'Compute/copy time ratios for the synthetic kernel', { default: '0.5,1,2' })
    .option('--sizes <list>', 'Chunk sizes, e.g. 64M,4M,1M (default 64M,4M; 256K,64K with --fake)')
    .option(
      '--chunks <n>',
      'Chunks per cell (default: enough for 8 GiB, 64..4096; the 0.999 target needs 1024+ at 64M)',
    )
    .option(
      '--repeats <n>',
      'Untraced runs per overlap cell, each followed by the stream peers; the median is reported',
      { default: DEFAULT_REPEATS },
    )
    .option('--device <ordinal>', 'CUDA device', { default: 0 })
    .option(
      '--devices <spec>',
      "One pipeline per device, chunks dealt to whichever frees a slot first: 'all', a count (2), or " +
        'ordinals (0,1; 0,0 = two pipelines on one GPU); with --fake a count of fake devices',
    )
    .option(
      '--no-peers',
      'Skip the PyTorch and CuPy peers (run by default: python3 or $TANDEM_PYTHON; skipped with a reason if missing)',
    )
    .option('--fake', 'Run on the fake device (no GPU needed; virtual times; the default where no GPU is usable)')
    .option('--gpu', GPU_OPTION_HELP)
    .option('--json', 'Print the results JSON on stdout instead of the table')
    .option('--out <dir>', 'Directory for results.json, trace.json, report.html (default ./tandem-bench-<date>)')
    .option('--no-trace', 'Skip the traced runs (no timeline, busy fractions or trace cost)')
    .option(
      '--jobs [count]',
      'Jobs mode instead of the sweep: count short jobs per cell (default 200; 20 with --fake), a fresh ' +
        'pipeline each, at 16×4M, 16×16M, 8×64M (64K, 256K, 1M with --fake), beside CuPy and PyTorch jobs ' +
        'peers; also the first job after reserve() (median of 5) and jobs after 30 ms idle; the table, ' +
        'results.json and report.html',
    )
    .example('tandem bench --sizes 64M,4M,1M --depths 2,3,auto')
    .example('tandem bench --fake --out /tmp/bench')
    .example('tandem bench --devices 0,0 --sizes 4M --no-peers   # two pipelines on one GPU')
    .example('tandem bench --jobs 500   # many short jobs, a fresh pipeline each, from the device pool')
    .action(async (options: BenchOptions) => {
      parseBenchOptions(options); // usage errors first, before any device question
      const parsed = parseBenchOptions({ ...options, fake: useFakeDevice('bench', options) });
      if (options.jobs !== undefined) {
        const jobs = await runJobsMode(parsed, options.jobs, () => openDevice(parsed), log);
        process.stdout.write(parsed.json ? `${JSON.stringify(jobs, null, 2)}\n` : `${jobsTable(jobs)}\n`);
        return;
      }
      // Ctrl-C stops the sweep within a chunk; the pipeline cleans up and run-cli exits 130.
      const ac = new AbortController();
      const onSigint = () => {
        ac.abort(new AbortError('interrupted: tandem bench stopped (Ctrl-C) before writing results'));
      };
      process.once('SIGINT', onSigint);
      let results: Results;
      try {
        results = await runBench(parsed, process.argv.slice(2), ac.signal);
      } finally {
        process.off('SIGINT', onSigint);
      }
      process.stdout.write(parsed.json ? `${JSON.stringify(results, null, 2)}\n` : `${resultsTable(results)}\n`);
      log(`wrote ${results.files.results}, ${results.files.trace}, ${results.files.report}`);
    });
}
