// Render benchmark for the GPU host (no ffmpeg there): does the pipeline keep the host stage or
// the GPU saturated?
//  1. sink-bound: fractal frames into the PNG sink (and the raw sink); the sink's throughput
//     measured alone — the run's very frames, held in pinned memory, same worker count and
//     concurrency, no GPU — against the full run's, alone / run / alone repeated (each run
//     against the mean of the alone before and after it). Target: run / alone >= 0.97.
//  2. GPU-bound: a heavy fractal and the decoder into a sink that only counts bytes; efficiency =
//     max(compute alone, D2H alone) / wall, both stages measured alone in this run.
//   bash .gpu-host/run.sh node dist/bench/render.js [--size 1920x1080] [--frames 240] [--dir /tmp]
//   node --import tsx bench/render.ts --fake --size 128x72 --frames 24     (smoke test, no GPU)
// Options: --depth auto|N (default auto), --fixed-depth N (sink-bound raw again at N, default 4),
// --repeats N (default 3). Prints a table on stdout; with OUT set, writes $OUT/render-bench.json.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  callbackSink,
  createFrameWorkload,
  openPngSink,
  openRawSink,
  runRender,
  type ComputeChunk,
  type Device,
  type FrameFormat,
  type FrameRange,
  type PinnedBuffer,
  type Sink,
} from 'tandem';
import { parseFrameSize, timeAlone } from 'tandem/bench';

const { values: args } = parseArgs({
  options: {
    fake: { type: 'boolean', default: false },
    size: { type: 'string', default: '1920x1080' },
    frames: { type: 'string', default: '240' },
    'frames-per-chunk': { type: 'string', default: '4' },
    dir: { type: 'string', default: tmpdir() },
    depth: { type: 'string', default: 'auto' },
    // Sink-bound rows also run at this fixed depth: auto grows the ring during the run.
    'fixed-depth': { type: 'string', default: '4' },
    repeats: { type: 'string', default: '3' },
  },
});
const { width, height } = parseFrameSize(args.size!);
const FRAMES = Number(args.frames);
const FPC = Number(args['frames-per-chunk']);
const DEPTH = args.depth === 'auto' ? ('auto' as const) : Number(args.depth);
const FIXED_DEPTH = Number(args['fixed-depth']);
const REPEATS = Math.max(1, Number(args.repeats));
const log = (s: string) => process.stderr.write(`${s}\n`);

async function openDevice(): Promise<Device> {
  if (args.fake) return new (await import('tandem/testing')).FakeDevice();
  const { driverAvailable, open } = await import('tandem');
  const a = driverAvailable();
  if (!a.ok) throw new Error(`no CUDA driver: ${a.reason} (use --fake for a smoke test)`);
  return open(0);
}

/**
 * The sink alone: the run's own chunks (kept in pinned memory, as the ring's slots are) fed in
 * order with the sink's concurrency, as the pipeline feeds them. Timed from the first write to
 * the last write settling; close() (joining the PNG workers, closing the file) is not timed,
 * as the run's wall does not include it either.
 */
async function sinkAloneMs(sink: Sink, chunks: PinnedBuffer[]): Promise<number> {
  const t0 = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < chunks.length; i++) {
    const pinned = chunks[i]!;
    const item: FrameRange = { firstFrame: i * FPC, frames: FPC };
    const p = sink.write({ index: i, slot: i, item, data: pinned.bytes, pinned, release() {} });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => {});
    if (inFlight.size >= sink.concurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const ms = performance.now() - t0;
  await sink.close();
  return ms;
}

interface Row {
  case: string;
  frames: number;
  wallMs: number;
  fps: number;
  depth: number | null;
  aloneMs: { sink?: number; compute?: number; copy?: number };
  /** sink-bound: run throughput / sink-alone throughput; GPU-bound: max(stage alone) / wall. */
  figure: number;
  figureName: string;
  target: number;
  bottleneck: string | null;
  /** Sink-bound rows: the sink's configuration (the same for alone and run) and every repeat. */
  sink?: {
    concurrency: number;
    workers?: number;
    repeats: { aloneBeforeMs: number; runMs: number; aloneAfterMs: number; figure: number }[];
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function sinkBound(device: Device, name: 'png' | 'raw', dir: string, depth: number | 'auto'): Promise<Row> {
  const format: FrameFormat = { width, height, pixelFormat: 'yuv420p', framesPerChunk: FPC };
  const opts = { ...format, cost: 1 };
  // Every chunk the run makes, captured once from the GPU into pinned memory: the sink alone
  // must see the same frames (PNG time depends on the content: the first frames of the zoom
  // took 6× longer to encode than the run's average) from the same kind of memory.
  const captured: PinnedBuffer[] = [];
  const w0 = createFrameWorkload('fractal', opts);
  const cap = callbackSink(
    (_b, chunk) => {
      const p = device.allocPinned(chunk.data.byteLength, `render bench capture ${chunk.index}`);
      p.bytes.set(chunk.data);
      captured[chunk.index] = p;
    },
    { format },
  );
  const r0 = await runRender({ device, workload: w0, sink: cap, frames: FRAMES, depth });
  w0.close();
  if (r0.error) throw r0.error;
  // One configuration for alone and run: worker count and concurrency fixed here.
  const workers = name === 'png' ? Math.max(1, Math.min(8, availableParallelism() - 1)) : undefined;
  let concurrency = 0;
  const open = async (tag: string): Promise<Sink> => {
    const s =
      name === 'png'
        ? await openPngSink({ dir: join(dir, `${tag}-png`), format, workers, ...(concurrency ? { concurrency } : {}) })
        : await openRawSink({ path: join(dir, `${tag}.yuv`), format, ...(concurrency ? { concurrency } : {}) });
    concurrency ||= s.concurrency;
    return s;
  };
  // Outputs are deleted after each phase so every phase writes into the same page-cache state.
  const clean = () => {
    for (const f of readdirSync(dir)) rmSync(join(dir, f), { recursive: true, force: true });
  };
  try {
    const repeats: NonNullable<Row['sink']>['repeats'] = [];
    let before = await sinkAloneMs(await open('alone'), captured);
    clean();
    let last: Awaited<ReturnType<typeof runRender>> | null = null;
    for (let k = 0; k < REPEATS; k++) {
      const w = createFrameWorkload('fractal', opts);
      const sink = await open('run');
      const r = await runRender({ device, workload: w, sink, frames: FRAMES, depth });
      w.close();
      if (r.error) throw r.error;
      clean();
      const after = await sinkAloneMs(await open('alone'), captured);
      clean();
      // To the last frame written: a PNG sink releases each slot before it encodes the frames.
      const runMs = r.outputWallMs!;
      repeats.push({ aloneBeforeMs: before, runMs, aloneAfterMs: after, figure: (before + after) / 2 / runMs });
      log(
        `  ${name} depth ${depth}: sink alone ${before.toFixed(1)} ms, run ${runMs.toFixed(1)} ms (depth ${r.stats!.depth}), sink alone ${after.toFixed(1)} ms`,
      );
      before = after;
      last = r;
    }
    const sinkMs = median(repeats.map((x) => (x.aloneBeforeMs + x.aloneAfterMs) / 2));
    const wall = median(repeats.map((x) => x.runMs));
    const { compute, copy } = await gpuAlone(device, 'fractal', 1);
    const stages = { sink: sinkMs, compute, copy };
    const [bottleneck, ideal] = Object.entries(stages).sort((a, b) => b[1] - a[1])[0]!;
    // When the sink is the slowest stage alone, ideal / wall is the run's throughput over the
    // sink's own: the >= 0.97 target. When it is not, the row is a GPU-bound run in disguise.
    return {
      case: `fractal ${width}x${height} yuv420p → ${name} sink, depth ${depth}`,
      frames: FRAMES,
      wallMs: wall,
      fps: (FRAMES / wall) * 1000,
      depth: last!.stats!.depth,
      aloneMs: stages,
      figure: bottleneck === 'sink' ? median(repeats.map((x) => x.figure)) : ideal / wall,
      figureName:
        bottleneck === 'sink' ? `run / sink-alone throughput (median of ${REPEATS})` : 'efficiency max(alone) / wall',
      target: bottleneck === 'sink' ? 0.97 : 0.95,
      bottleneck: `${bottleneck} (alone)`,
      sink: { concurrency, ...(workers ? { workers } : {}), repeats },
    };
  } finally {
    for (const p of captured) p?.close();
    clean();
  }
}

/** Compute alone and D2H alone over the run's chunks (item = chunk index: a full chunk each). */
async function gpuAlone(
  device: Device,
  workload: 'fractal' | 'decoder',
  cost: number,
): Promise<{ compute: number; copy: number }> {
  const format: FrameFormat = { width, height, pixelFormat: 'yuv420p', framesPerChunk: FPC };
  const w = createFrameWorkload(workload, { ...format, cost });
  try {
    const inst = w.setup(device);
    const chunks = FRAMES / FPC;
    const [compute] = await timeAlone(device, (c) => inst.compute(c as unknown as ComputeChunk<FrameRange>), {
      chunkBytes: w.outputBytes,
      chunks,
    });
    const [copy] = await timeAlone(device, 'copy', { chunkBytes: w.outputBytes, chunks });
    return { compute, copy };
  } finally {
    w.close();
  }
}

async function gpuBound(device: Device, workload: 'fractal' | 'decoder', cost: number): Promise<Row> {
  const format: FrameFormat = { width, height, pixelFormat: 'yuv420p', framesPerChunk: FPC };
  const { compute, copy } = await gpuAlone(device, workload, cost);
  const w2 = createFrameWorkload(workload, { ...format, cost });
  let _bytes = 0; // counted so the sink reads every frame, as a real one would
  const count = callbackSink(
    ({ frames }) => {
      for (const f of frames) _bytes += f.byteLength;
    },
    { format },
  );
  const r = await runRender({ device, workload: w2, sink: count, frames: FRAMES, depth: DEPTH });
  w2.close();
  if (r.error) throw r.error;
  const wall = r.stats!.wallMs;
  return {
    case: `${workload} ${width}x${height} yuv420p cost ${cost} → counting sink (GPU-bound)`,
    frames: FRAMES,
    wallMs: wall,
    fps: (FRAMES / wall) * 1000,
    depth: r.stats!.depth,
    aloneMs: { compute, copy },
    figure: Math.max(compute, copy) / wall,
    figureName: 'efficiency max(alone) / wall',
    target: 0.95,
    bottleneck: compute >= copy ? 'compute' : 'copy',
  };
}

async function main(): Promise<void> {
  if (!Number.isInteger(FRAMES / FPC) || FRAMES <= 0)
    throw new Error('--frames must be a positive multiple of --frames-per-chunk');
  const device = await openDevice();
  const dir = mkdtempSync(join(args.dir!, 'tandem-render-bench-'));
  const rows: Row[] = [];
  try {
    log(`device: ${device.properties.name}; ${availableParallelism()} CPUs; output in ${dir}`);
    for (const [label, run] of [
      ['png', () => sinkBound(device, 'png', dir, DEPTH)],
      ['raw', () => sinkBound(device, 'raw', dir, DEPTH)],
      ['raw, fixed depth', () => sinkBound(device, 'raw', dir, FIXED_DEPTH)],
      ['fractal heavy', () => gpuBound(device, 'fractal', args.fake ? 0.25 : 8)],
      ['decoder', () => gpuBound(device, 'decoder', args.fake ? 0.25 : 1)],
    ] as const) {
      log(`running ${label} …`);
      try {
        rows.push(await run());
      } catch (err) {
        log(`${label} failed: ${(err as Error).stack ?? err}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await device[Symbol.asyncDispose]();
  }
  const lines = [
    `| case | frames | wall ms | frames/s | depth | alone ms | figure | target | bottleneck |`,
    `|---|---|---|---|---|---|---|---|---|`,
    ...rows.map(
      (r) =>
        `| ${r.case} | ${r.frames} | ${r.wallMs.toFixed(1)} | ${r.fps.toFixed(1)} | ${r.depth ?? ''} | ${Object.entries(
          r.aloneMs,
        )
          .map(([k, v]) => `${k} ${v!.toFixed(1)}`)
          .join(', ')} | ${r.figureName} = ${r.figure.toFixed(3)} | ≥ ${r.target} | ${r.bottleneck ?? ''} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (process.env.OUT)
    writeFileSync(
      join(process.env.OUT, 'render-bench.json'),
      JSON.stringify(
        { device: args.fake ? 'fake' : 'cuda', width, height, frames: FRAMES, framesPerChunk: FPC, rows },
        null,
        2,
      ),
    );
}

await main();
