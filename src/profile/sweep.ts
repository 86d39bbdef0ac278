// The benchmark sweep behind `tandem bench`: mode × depth × compute/copy ratio × chunk size.
// For each (size, ratio) the stages are first measured alone (the ideal), then each mode/depth
// runs untraced for the headline figures (wall, efficiency, NVML; overlap cells `repeats` times,
// each run followed by the stream peers' runs of the same cell, the median run reported) and
// once traced for the timeline, the busy fractions, strict utilisation and gaps, and the tracing
// cost itself.
// Stages alone are GPU time of chunks queued back to back behind a hold (alone.ts); where the
// copy can bound a cell, D2H alone is re-measured after each run and the fastest so far is kept.
import type { Device } from '../pipeline/device.js';
import { createPipeline } from '../pipeline/pipeline.js';
import { createMultiPipeline } from '../pipeline/multi.js';
import type { MultiComputeChunk } from '../pipeline/multi-types.js';
import type { PipelineMode, PipelineStats } from '../pipeline/types.js';
import { deviceShares, multiAsPipelineStats } from '../pipeline/multi-stats.js';
import { formatBytes } from '../util/format.js';
import { collectGarbage } from '../util/full-gc.js';
import { copyDrift, type CopyDrift } from './drift.js';
import { timeAlone, type ComputeFn } from './alone.js';
import { calibrateCost } from './calibrate.js';
import { LaunchRecorder, peerLaunch, type PeerLaunch, type RecordedLaunch } from './capture.js';
import { computeMetrics, traceCostPerChunkMs } from './metrics.js';
import { attachInterleaved, PeerDepthChoice, type InterleavedRound } from './peer-rounds.js';
import { UtilizationSampler, summarizeUtilization, type UtilizationSample } from './nvml-sampler.js';
import type { Cell, TimelineRecord } from './results.js';
import { timelineRecord, withoutTimeline } from './results.js';
import { ringLabel } from './table.js';

/** One prepared instance of a workload at one chunk size. */
export interface BenchInstance {
  compute: ComputeFn;
  /** Sets the per-chunk cost (iters): present when the compute/copy ratio can be tuned. */
  setCost?(cost: number): void;
  params(): Record<string, unknown>;
  close(): void;
}

export interface BenchWorkload {
  name: string;
  /** Whether the compute/copy ratio can be tuned (the instance then has setCost). */
  tunable: boolean;
  /** A first cost to try when calibrating a ratio. */
  initialCost?: number;
  maxCost?: number;
  /** The chunk sizes it runs at when it decides them itself (frame workloads); else the sweep's. */
  fixedChunkBytes?: number;
  create(device: Device, chunkBytes: number): Promise<BenchInstance>;
}

export type DepthSpec = number | 'auto';

export interface SweepConfig {
  modes: PipelineMode[];
  depths: DepthSpec[];
  ratios: number[];
  sizes: number[];
  /** Chunks per cell; a function of the chunk size when not fixed. */
  chunks: (chunkBytes: number) => number;
  warmupChunks: number;
  /**
   * Untraced runs per overlap cell (serial runs once). The cell's headline figures come from the
   * run with the median wall; the stream peers run right after each of them (hooks.peers).
   */
  repeats: number;
  /** Whether to keep a traced run per cell (timeline metrics and trace cost). Default true. */
  traced: boolean;
  /** Keep full timelines for these cells in the results (report, trace). */
  showcase: (cell: { chunkBytes: number; ratio: number | null }) => boolean;
  maxTimelineChunks: number;
}

export interface PeerCellSpec {
  key: string;
  chunkBytes: number;
  chunks: number;
  launch: PeerLaunch | null;
  reason?: string;
}

export interface SweepOutput {
  cells: Cell[];
  timelines: TimelineRecord[];
  /** The launch rule per (size, ratio), for the peers. */
  peerCells: PeerCellSpec[];
  utilization: { available: boolean; reason?: string };
  /** Every D2H-alone measurement per chunk size, and how far they spread. */
  copyDrift: CopyDrift[];
}

/**
 * The stream peers, run interleaved with tandem: prepared once per (size, ratio) cell, then one
 * run each right after every untraced tandem run of an overlap cell, at the depth tandem ran.
 */
export interface SweepPeers {
  prepare(cell: PeerCellSpec & { launch: PeerLaunch }): Promise<void>;
  /** One run of each peer that is still usable, except those in `skip`; walls (ms) by peer name. */
  run(depth: number, skip?: ReadonlySet<string>): Promise<Record<string, number>>;
  /** The prepared cell's stages alone in that peer's process. */
  alone(peer: string): { computeAloneMs: number | null; copyAloneMs: number | null } | undefined;
}

export interface SweepHooks {
  log(line: string): void;
  /** NVML reader for the device, or null with the reason. */
  utilization?: { read: (() => { gpu: number; memory: number } | null) | null; reason?: string };
  signal?: AbortSignal;
  /**
   * One pipeline per entry (the first is `device`; a Device may repeat: two pipelines on one
   * GPU). With more than one, each cell runs a multi-device pipeline, untraced.
   */
  devices?: readonly Device[];
  peers?: SweepPeers;
}

/** The compute of a multi-device run: each chunk goes to its device's own instance. */
type MultiCompute = (chunk: MultiComputeChunk<number>) => void | Promise<void>;

export function cellKey(chunkBytes: number, ratio: number | null): string {
  return `${formatBytes(chunkBytes).replace(/\s+/g, '')}${ratio === null ? '' : `-r${ratio}`}`;
}

function modeDepths(config: SweepConfig): { mode: PipelineMode; depth: DepthSpec }[] {
  const out: { mode: PipelineMode; depth: DepthSpec }[] = [];
  for (const mode of config.modes) {
    // Serial has no ring to deepen: one run stands for every depth.
    if (mode === 'serial') out.push({ mode, depth: 1 });
    else for (const depth of config.depths) out.push({ mode, depth });
  }
  return out;
}

/** The fake device's virtual clock (ms), or null on a real device. */
function virtualNow(device: Device): number | null {
  if (device.backend !== 'fake') return null;
  const now = (device as unknown as { clock?: { now?: unknown } }).clock?.now;
  return typeof now === 'number' ? now : null;
}

async function runMultiPipeline(
  devices: readonly Device[],
  compute: MultiCompute,
  o: { mode: PipelineMode; depth: DepthSpec; chunkBytes: number; chunks: number; warmup: number; signal?: AbortSignal },
): Promise<{ stats: PipelineStats; shares: ReturnType<typeof deviceShares> }> {
  const pipeline = createMultiPipeline<number>(devices, {
    outputBytes: o.chunkBytes,
    mode: o.mode,
    depth: o.depth,
    compute,
    label: `bench ${o.mode} ×${devices.length}`,
  });
  try {
    if (o.warmup > 0) await pipeline.run(o.warmup * devices.length, { signal: o.signal });
    const distinct = [...new Set(devices)];
    collectGarbage(); // as before a single-device run (warmPipeline.measure)
    const v0 = distinct.map(virtualNow);
    const m = await pipeline.run(o.chunks, { signal: o.signal });
    const stats = multiAsPipelineStats(m, o.mode);
    // Fake devices: virtual walls as in runPipeline, the longest of the devices' clocks.
    const advanced = distinct.map((d, k) => (v0[k] === null ? null : virtualNow(d)! - v0[k]!));
    if (advanced.every((v) => v !== null && v > 0)) {
      const wallMs = Math.max(...(advanced as number[]));
      return {
        stats: {
          ...stats,
          wallMs,
          copyThroughput: { ...stats.copyThroughput, wall: stats.bytesOut / (wallMs / 1000) },
        },
        shares: deviceShares(m),
      };
    }
    return { stats, shares: deviceShares(m) };
  } finally {
    pipeline.close();
  }
}

/** A pipeline past its warm-up run: measure() runs the cell once more (repeats share the warm-up). */
async function warmPipeline(
  device: Device,
  compute: ComputeFn,
  o: { mode: PipelineMode; depth: DepthSpec; chunkBytes: number; chunks: number; warmup: number; signal?: AbortSignal },
): Promise<{ measure(trace?: boolean): Promise<PipelineStats>; close(): void }> {
  const pipeline = createPipeline<number>(device, {
    outputBytes: o.chunkBytes,
    mode: o.mode,
    depth: o.depth,
    compute,
    // The warm-up, the repeats and the traced run share one ring through the device's pool, as
    // the peers reuse their buffers in a cell, and the tracing cost is then the same ring's traced
    // wall against its untraced one.
    label: `bench ${o.mode}`,
  });
  try {
    if (o.warmup > 0) await pipeline.run(o.warmup, { signal: o.signal });
  } catch (err) {
    pipeline.close();
    throw err;
  }
  return {
    async measure(trace = false) {
      // Not inside the run: what the harness left behind (the traced run's timeline, results).
      collectGarbage();
      const v0 = virtualNow(device);
      const stats = await pipeline.run(o.chunks, { signal: o.signal, trace });
      const v1 = virtualNow(device);
      // The fake device's clock races ahead whenever the host waits, so its host-measured wall is
      // shorter than the virtual work it ran: on the fake, walls are virtual like its stage times.
      if (v0 !== null && v1 !== null && v1 > v0) {
        const wallMs = v1 - v0;
        return {
          ...stats,
          wallMs,
          copyThroughput: { ...stats.copyThroughput, wall: stats.bytesOut / (wallMs / 1000) },
        };
      }
      return stats;
    },
    close: () => pipeline.close(),
  };
}

/** Launches of chunks 0, 1, 2 recorded through the wrapped device, turned into a peer rule. */
export async function capture(
  device: Device,
  recorder: LaunchRecorder,
  compute: ComputeFn,
  chunkBytes: number,
): Promise<{ launch: PeerLaunch | null; reason?: string }> {
  const stream = device.createStream({ label: 'capture' });
  const bufs = [device.allocDevice(chunkBytes, 'capture[0]'), device.allocDevice(chunkBytes, 'capture[1]')];
  const perChunk: { index: number; output: (typeof bufs)[number]; launches: RecordedLaunch[] }[] = [];
  try {
    for (let index = 0; index < 3; index++) {
      const output = bufs[index % 2]!;
      recorder.launches.length = 0;
      recorder.recording = true;
      try {
        await compute({ index, slot: index % 2, stream, output, input: null, item: index });
      } finally {
        recorder.recording = false;
      }
      perChunk.push({ index, output, launches: [...recorder.launches] });
    }
    await stream.synchronize();
    // Before the buffers close: the rule compares arguments with each chunk's output buffer,
    // and a closed CUDA buffer no longer gives its address.
    const r = peerLaunch(perChunk);
    return r.ok ? { launch: r.launch } : { launch: null, reason: r.reason };
  } finally {
    recorder.launches.length = 0;
    for (const b of bufs) b.close();
    stream.close();
  }
}

/**
 * One cell: the untraced run (headline wall, efficiency against the stages alone, NVML) and, when
 * asked, the traced run of the same cell (timeline metrics, and the tracing cost as the walls'
 * difference per chunk).
 */
async function measureCell(
  device: Device,
  compute: ComputeFn,
  sampler: UtilizationSampler | null,
  o: {
    key: string;
    workload: string;
    mode: PipelineMode;
    depth: DepthSpec;
    ratio: number | null;
    chunkBytes: number;
    chunks: number;
    params: Record<string, unknown>;
    computeMs: number;
    copyMs: number;
    warmup: number;
    trace: boolean;
    signal?: AbortSignal;
    /** A multi-device run: its pipelines, their compute, and how many distinct GPUs share the work. */
    multi?: { devices: readonly Device[]; compute: MultiCompute; gpus: number };
    /**
     * D2H alone measured again right after the untraced run, where the copy can be the slowest
     * stage: the cell's copy ideal is then the faster of the best so far (copyMs) and this one.
     */
    copyAfter?: () => Promise<number>;
    repeats: number;
    peers?: SweepPeers;
  },
): Promise<{
  cell: Cell;
  traced: PipelineStats | null;
  tracedSamples: UtilizationSample[];
  copyAfterMs: number | null;
}> {
  const run = {
    mode: o.mode,
    depth: o.depth,
    chunkBytes: o.chunkBytes,
    chunks: o.chunks,
    warmup: o.warmup,
    signal: o.signal,
  };
  let shares: ReturnType<typeof deviceShares> | null = null;
  const interleave = o.mode === 'overlap' && !o.multi;
  const repeats = interleave ? o.repeats : 1;
  const runs: InterleavedRound[] = [];
  const choice = new PeerDepthChoice();
  const session = o.multi ? null : await warmPipeline(device, compute, run);
  let copyAfterMs: number | null = null;
  let traced: PipelineStats | null = null;
  let tracedSamples: UtilizationSample[] = [];
  try {
    for (let r = 0; r < repeats; r++) {
      o.signal?.throwIfAborted();
      const t0 = performance.now();
      let stats: PipelineStats;
      if (o.multi) {
        const m = await runMultiPipeline(o.multi.devices, o.multi.compute, run);
        stats = m.stats;
        shares = m.shares;
      } else {
        stats = await session!.measure();
      }
      const t1 = performance.now();
      // The peers right after, at the depth this run used ('auto' resolved): same host, same
      // minute. Where tandem's ring had fewer device slots than pinned ones, also at that many
      // (first round; then each at its faster one: peer-rounds.ts).
      const peers: InterleavedRound['peers'] = {};
      if (interleave && o.peers) {
        const depths = [...new Set([stats.depth, stats.deviceSlots])];
        for (const depth of depths) {
          for (const [name, ms] of Object.entries(await o.peers.run(depth, choice.skipAt(depth, depths))))
            (peers[name] ??= {})[depth] = ms;
        }
        choice.record(peers);
      }
      runs.push({ stats, t0, t1, peers });
    }
    copyAfterMs = o.copyAfter ? await o.copyAfter() : null;
    if (o.trace && session) {
      const t2 = performance.now();
      traced = await session.measure(true);
      tracedSamples = sampler ? sampler.between(t2, performance.now()) : [];
    }
  } finally {
    session?.close();
  }
  // The headline run: the median wall (the lower one of the middle two for an even count).
  const byWall = [...runs].sort((a, b) => a.stats.wallMs - b.stats.wallMs);
  const mid = byWall[(byWall.length - 1) >> 1]!;
  const untraced = mid.stats;
  // N distinct GPUs share the chunks: the ideal is one GPU's slowest stage alone over N.
  const gpus = o.multi?.gpus ?? 1;
  const util = sampler ? summarizeUtilization(sampler.between(mid.t0, mid.t1)) : null;
  const copyMs = copyAfterMs === null ? o.copyMs : Math.min(o.copyMs, copyAfterMs);
  const cost = traced ? traceCostPerChunkMs(untraced, traced) : null;
  const pinnedPeak = (o.chunkBytes * o.chunks) / (copyMs / 1000);
  const cell: Cell = {
    id: `${o.key}-${o.mode === 'serial' ? 'serial' : `d${o.depth}`}`,
    workload: o.workload,
    mode: o.mode,
    depth: untraced.depth,
    ratio: o.ratio,
    measuredRatio: copyMs > 0 ? o.computeMs / copyMs : null,
    chunkBytes: o.chunkBytes,
    chunks: o.chunks,
    params: {
      ...o.params,
      ...(o.depth === 'auto' ? { depth: 'auto', depthReason: untraced.depthReason } : {}),
      ...(o.depth === 'auto' && new Set(runs.map((r) => r.stats.depth)).size > 1
        ? { depthsRun: runs.map((r) => r.stats.depth) }
        : {}),
      ...(o.multi ? { pipelines: o.multi.devices.length, gpus, perDevice: shares } : {}),
    },
    alone: { computeMs: o.computeMs, copyMs },
    stats: withoutTimeline(untraced),
    efficiency: untraced.wallMs > 0 ? Math.max(o.computeMs, copyMs) / gpus / untraced.wallMs : null,
    copyOfPeak: untraced.wallMs > 0 ? copyMs / gpus / untraced.wallMs : null,
    traced: traced ? { wallMs: traced.wallMs, metrics: computeMetrics(traced, { pinnedPeak }) } : null,
    traceCostPerChunkUs: cost === null ? null : cost * 1000,
    nvml: util,
    ...(runs.length > 1 ? { walls: runs.map((r) => r.stats.wallMs) } : {}),
    peers: {},
  };
  if (o.peers) attachInterleaved(cell, runs, o.peers);
  return { cell, traced, tracedSamples, copyAfterMs };
}

export async function runSweep(
  device: Device,
  workload: BenchWorkload,
  config: SweepConfig,
  hooks: SweepHooks,
): Promise<SweepOutput> {
  const cells: Cell[] = [];
  const timelines: TimelineRecord[] = [];
  const peerCells: PeerCellSpec[] = [];
  const drifts: { chunkBytes: number; samples: number[] }[] = [];
  const recorder = new LaunchRecorder();
  const wrapped = recorder.wrap(device);
  const sampler = hooks.utilization?.read ? new UtilizationSampler(hooks.utilization.read).start() : null;
  const sizes = workload.fixedChunkBytes ? [workload.fixedChunkBytes] : config.sizes;
  const pipelines = hooks.devices && hooks.devices.length > 1 ? [...hooks.devices] : null;
  const others = pipelines ? [...new Set(pipelines)].filter((d) => d !== device) : [];
  const combos = modeDepths(config);
  const total = sizes.length * (workload.tunable && config.ratios.length ? config.ratios.length : 1) * combos.length;
  let done = 0;
  const started = performance.now();
  try {
    for (const chunkBytes of sizes) {
      const chunks = config.chunks(chunkBytes);
      const instance = await workload.create(wrapped, chunkBytes);
      // One instance per other distinct device (kernels are per context), same cost as the first.
      const extra = new Map<Device, BenchInstance>();
      let multi: { devices: readonly Device[]; compute: MultiCompute; gpus: number } | undefined;
      try {
        for (const d of others) extra.set(d, await workload.create(d, chunkBytes));
        if (pipelines) {
          multi = {
            devices: pipelines,
            gpus: others.length + 1,
            compute: (c) => (c.device === device ? instance : extra.get(c.device)!).compute(c),
          };
        }
        const ratios: (number | null)[] =
          workload.tunable && instance.setCost && config.ratios.length ? config.ratios : [null];
        hooks.log(`${workload.name}, ${formatBytes(chunkBytes)} chunks × ${chunks}: measuring D2H alone`);
        // The best D2H-alone figure at this size so far: the pinned peak. Cells where the copy can
        // bound the run measure it again after their run and keep the faster. Copy bandwidth into
        // freshly allocated pinned memory drifts between allocations and within a minute on some
        // hosts: against a single early measurement a cell can score above 1; against the best
        // seen, the ideal is never the slow outlier.
        let [copyMs] = await timeAlone(device, 'copy', { chunkBytes, chunks, warmup: 2 });
        const copySamples = [copyMs];
        const copyAgain = async () => {
          const [ms] = await timeAlone(device, 'copy', { chunkBytes, chunks, warmup: 2 });
          copySamples.push(ms);
          return ms;
        };
        drifts.push({ chunkBytes, samples: copySamples });
        for (const ratio of ratios) {
          hooks.signal?.throwIfAborted();
          if (ratio !== null) {
            const cal = await calibrateCost(
              device,
              { compute: instance.compute, setCost: instance.setCost! },
              {
                chunkBytes,
                ratios: [ratio],
                copyMsPerChunk: copyMs / chunks,
                search: { kind: 'secant', initialCost: workload.initialCost ?? 1024, maxCost: workload.maxCost },
              },
            );
            const point = cal.points[0]!;
            for (const e of extra.values()) e.setCost?.(point.cost);
            hooks.log(
              `  ratio ${ratio}: cost ${point.cost} → ${point.computeMsPerChunk.toFixed(4)} ms/chunk (target ` +
                `${point.targetMsPerChunk.toFixed(4)}, ${cal.probes} probes)`,
            );
          }
          const [computeMs] = await timeAlone(device, instance.compute, { chunkBytes, chunks, warmup: 2 });
          if (ratio !== null)
            hooks.log(
              `  ratio ${ratio}: compute alone ${computeMs.toFixed(2)} ms / D2H alone ${copyMs.toFixed(2)} ms over ` +
                `${chunks} chunks = ${(computeMs / copyMs).toFixed(3)}`,
            );
          const key = cellKey(chunkBytes, ratio);
          const cap = await capture(device, recorder, instance.compute, chunkBytes);
          peerCells.push({
            key,
            chunkBytes,
            chunks,
            launch: cap.launch,
            ...(cap.reason ? { reason: cap.reason } : {}),
          });
          const peers = cap.launch && !multi ? hooks.peers : undefined;
          if (peers) await peers.prepare({ key, chunkBytes, chunks, launch: cap.launch! });
          const params = instance.params();
          for (const { mode, depth } of combos) {
            hooks.signal?.throwIfAborted();
            const copyMatters = copyMs >= 0.8 * computeMs;
            const { cell, traced, tracedSamples, copyAfterMs } = await measureCell(device, instance.compute, sampler, {
              key,
              workload: workload.name,
              mode,
              depth,
              ratio,
              chunkBytes,
              chunks,
              params,
              computeMs,
              copyMs,
              warmup: config.warmupChunks,
              trace: config.traced,
              signal: hooks.signal,
              multi,
              repeats: config.repeats,
              peers,
              ...(copyMatters && device.backend === 'cuda' ? { copyAfter: copyAgain } : {}),
            });
            if (copyAfterMs !== null) copyMs = Math.min(copyMs, copyAfterMs);
            cells.push(cell);
            if (traced && config.showcase({ chunkBytes, ratio })) {
              const ring = mode === 'serial' ? 'serial' : `overlap, depth ${cell.depth}`;
              const label = `${ring} — ${formatBytes(chunkBytes)}${ratio === null ? '' : `, compute/copy ${ratio}`}`;
              const rec = timelineRecord(cell.id, label, traced, tracedSamples, config.maxTimelineChunks);
              if (rec) timelines.push(rec);
            }
            done++;
            hooks.log(
              `[${done}/${total}] ${mode === 'serial' ? 'serial  ' : `overlap d${ringLabel(cell)}`} ${key}: ` +
                `${cell.stats.wallMs.toFixed(2)} ms, efficiency ${cell.efficiency?.toFixed(4) ?? '–'}` +
                (cell.traced?.metrics.kernelUtilization.strict != null
                  ? `, kernel util ${(cell.traced.metrics.kernelUtilization.strict * 100).toFixed(1)}%`
                  : '') +
                (cell.nvml?.mean != null ? `, NVML ${cell.nvml.mean.toFixed(0)}%` : '') +
                ` (${((performance.now() - started) / 1000).toFixed(1)} s into the sweep)`,
            );
          }
        }
      } finally {
        instance.close();
        for (const e of extra.values()) e.close();
      }
    }
  } finally {
    sampler?.stop();
  }
  return {
    cells,
    timelines,
    peerCells,
    copyDrift: drifts.map((d) => copyDrift(d.chunkBytes, d.samples)),
    utilization: sampler
      ? { available: true }
      : { available: false, reason: hooks.utilization?.reason ?? 'not sampled' },
  };
}
