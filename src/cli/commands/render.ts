// `tandem render`: a GPU frame workload streamed into a video (ffmpeg), a PNG sequence or a raw
// file while the next frames are computed. Progress and the summary go to stderr; with
// `--out -` the raw frames go to stdout. Ctrl-C stops the run, finalises the output (the mp4 is
// playable) and exits with 130.
import type { CAC } from 'cac';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Device } from '../../core/types.js';
import { UsageError, formatBytes } from '../../cuda/errors.js';
import type { PipelineStats } from '../../pipeline/types.js';
import { FfmpegNotFoundError, openFfmpegSink } from '../../sinks/ffmpeg.js';
import { SinkError } from '../../sinks/errors.js';
import { openPngSink } from '../../sinks/png.js';
import { openRawSink } from '../../sinks/raw.js';
import { readableSink } from '../../sinks/readable.js';
import type { Sink } from '../../sinks/types.js';
import {
  PIXEL_FORMATS,
  frameBytes,
  parseSize,
  type FrameFormat,
  type PixelFormat,
} from '../../workloads/frame-format.js';
import { createFrameWorkload, workloadNames } from '../../workloads/registry.js';
import { runRender, type RenderProgress } from '../../workloads/render.js';
import { openDeviceList, parseDeviceList, type DeviceList } from '../../profile/device-list.js';
import type { FrameWorkload } from '../../workloads/types.js';
import { EXIT_INTERRUPTED } from '../run-cli.js';

export interface RenderCliOptions {
  workload: string;
  size: string;
  frames: number | string;
  out?: string;
  format: string;
  framesPerChunk: number | string;
  depth: number | string;
  deviceSlots?: number | string;
  mode: string;
  device: number | string;
  devices?: number | string;
  fps: number | string;
  cost: number | string;
  report?: string | boolean;
  fake?: boolean;
  pngWorkers?: number | string;
  progress?: boolean;
}

const RAW_EXTENSIONS = new Set(['.raw', '.yuv', '.rgba', '.bin']);

export type OutputKind = 'ffmpeg' | 'png' | 'raw' | 'stdout';

/** What --out means: a directory (trailing slash or existing) → PNGs; .raw/.yuv → raw; '-' → stdout; else ffmpeg. */
export async function outputKind(out: string): Promise<OutputKind> {
  if (out === '-' || out === 'pipe:' || out === 'pipe:1') return 'stdout';
  if (out.endsWith('/')) return 'png';
  const isDir = await stat(out).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (isDir) return 'png';
  const ext = extname(out).toLowerCase();
  if (RAW_EXTENSIONS.has(ext)) return 'raw';
  if (!ext)
    throw new UsageError(
      `--out '${out}' has no extension: write '${out}/' for a PNG sequence, '${out}.mp4' for a video or '${out}.raw' for raw frames`,
    );
  return 'ffmpeg';
}

function integer(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      `--${name} must be a whole number${max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : ` ≥ ${min}`}, got '${String(v)}'`,
    );
  }
  return n;
}

function positive(name: string, v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number > 0, got '${String(v)}'`);
  return n;
}

export interface RenderPlan {
  workloadName: string;
  format: FrameFormat;
  frames: number;
  out: string;
  kind: OutputKind;
  depth: number | 'auto';
  deviceSlots: number | 'auto';
  mode: 'overlap' | 'serial';
  device: number;
  /** --devices: one pipeline per entry (a GPU may repeat), or null for --device alone. */
  devices: DeviceList | null;
  fps: number;
  cost: number;
  report: string | null;
  fake: boolean;
  pngWorkers: number | undefined;
}

/** Checks every option and says what to change; touches no device. */
export async function planRender(o: RenderCliOptions): Promise<RenderPlan> {
  if (!workloadNames().includes(o.workload))
    throw new UsageError(`unknown workload '${o.workload}': choose one of ${workloadNames().join(', ')}`);
  const { width, height } = parseSize(String(o.size));
  if (!PIXEL_FORMATS.includes(o.format as PixelFormat))
    throw new UsageError(`--format '${o.format}' is not supported: use ${PIXEL_FORMATS.join(' or ')}`);
  const frames = integer('frames', o.frames, 1);
  const framesPerChunk = integer('frames-per-chunk', o.framesPerChunk, 1, 256);
  const depth = o.depth === 'auto' ? 'auto' : integer('depth', o.depth, 1, 16);
  const deviceSlots =
    o.deviceSlots === undefined || o.deviceSlots === 'auto' ? 'auto' : integer('device-slots', o.deviceSlots, 1, 16);
  if (typeof deviceSlots === 'number' && typeof depth === 'number' && deviceSlots > depth) {
    throw new UsageError(
      `--device-slots ${deviceSlots} is more than --depth ${depth}: each device slot needs a pinned slot; raise --depth or lower --device-slots`,
    );
  }
  if (o.mode !== 'overlap' && o.mode !== 'serial')
    throw new UsageError(`--mode must be overlap or serial, got '${o.mode}'`);
  if (o.out === undefined || o.out === '' || typeof o.out !== 'string') {
    throw new UsageError(
      'give --out: a video (zoom.mp4), a directory for PNGs (frames/), a raw file (video.raw) or - for stdout',
    );
  }
  const report =
    o.report === undefined || o.report === false
      ? null
      : o.report === true || o.report === ''
        ? 'tandem-render-report.html'
        : String(o.report);
  return {
    workloadName: o.workload,
    format: { width, height, pixelFormat: o.format as PixelFormat, framesPerChunk },
    frames,
    out: o.out,
    kind: await outputKind(o.out),
    depth,
    deviceSlots,
    mode: o.mode,
    device: integer('device', o.device, 0),
    devices: o.devices === undefined ? null : parseDeviceList(o.devices),
    fps: positive('fps', o.fps),
    cost: positive('cost', o.cost),
    report,
    fake: o.fake === true,
    pngWorkers: o.pngWorkers === undefined ? undefined : integer('png-workers', o.pngWorkers, 1, 64),
  };
}

/** Output problems found before any frame is made are the user's to fix: usage errors (exit 2). */
export async function openSink(plan: RenderPlan): Promise<Sink> {
  try {
    return await openSinkFor(plan);
  } catch (err) {
    if ((err instanceof SinkError && err.chunkIndex === null) || err instanceof FfmpegNotFoundError)
      throw new UsageError(err.message);
    throw err;
  }
}

async function openSinkFor(plan: RenderPlan): Promise<Sink> {
  switch (plan.kind) {
    case 'ffmpeg':
      return openFfmpegSink({ path: plan.out, format: plan.format, fps: plan.fps });
    case 'png':
      return openPngSink({ dir: plan.out, format: plan.format, workers: plan.pngWorkers });
    case 'raw':
      return openRawSink({ path: plan.out, format: plan.format });
    case 'stdout': {
      const s = readableSink({ format: plan.format });
      s.readable.on('error', () => {}); // reported by the next write, with its chunk
      s.readable.pipe(process.stdout);
      // EPIPE: the reader went away (`| head`); the next write fails and the run stops.
      process.stdout.on('error', (err) => void s.abort(err));
      return s;
    }
  }
}

async function openDevice(plan: RenderPlan): Promise<Device> {
  if (plan.fake) {
    const { FakeDevice } = await import('../../testing/index.js');
    return new FakeDevice({ name: 'tandem fake device (--fake)' });
  }
  const { open } = await import('../../core/open.js');
  return open(plan.device);
}

/** The run's devices: --device alone, or one pipeline per --devices entry. */
async function openRenderDevices(
  plan: RenderPlan,
): Promise<{ device: Device; devices: Device[]; close(): Promise<void> }> {
  if (plan.devices === null) {
    const device = await openDevice(plan);
    return {
      device,
      devices: [device],
      close: async () => void (await Promise.resolve(device[Symbol.asyncDispose]()).catch(() => {})),
    };
  }
  const opened = await openDeviceList(plan.devices, {
    fake: plan.fake,
    fakeOptions: { name: 'tandem fake device (--fake)' },
  });
  return { device: opened.devices[0]!, devices: opened.devices, close: opened.close };
}

/** utilization.gpu from NVML, or null where there is none (the fake device, no NVML). */
async function gpuUtilization(device: Device): Promise<(() => number | null) | null> {
  if (device.backend !== 'cuda') return null;
  try {
    const { nvmlUtilizationReader } = await import('../../profile/nvml-sampler.js');
    const r = nvmlUtilizationReader(device.properties.pciBusId);
    if (!r.read) return null;
    const read = r.read;
    return () => read()?.gpu ?? null;
  } catch {
    return null;
  }
}

function seconds(ms: number): string {
  return ms >= 100_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** 'sink' when the host stage was busy nearly all the time, else the GPU side. */
function liveBottleneck(p: RenderProgress, windowActiveMs: number, windowMs: number): string {
  if (p.chunksDone === 0 || windowMs <= 0) return '…';
  return windowActiveMs / windowMs > 0.9 ? 'sink (host stage)' : 'GPU (compute/copy)';
}

class ProgressLine {
  private readonly tty = process.stderr.isTTY === true;
  private lastPrint = 0;
  private lastWindow = { t: 0, frames: 0, active: 0 };
  private rate = 0;
  private bottleneck = '…';
  private util: number | null = null;

  constructor(
    private readonly total: number,
    private readonly readUtil: (() => number | null) | null,
    private readonly enabled: boolean,
  ) {}

  update(p: RenderProgress, force = false): void {
    const now = performance.now();
    if (!this.enabled) {
      // No line to print, but the summary still reports NVML's utilisation: sample it.
      if (force || now - this.lastPrint >= 500) {
        this.readUtil?.();
        this.lastPrint = now;
      }
      return;
    }
    const interval = this.tty ? 200 : 5000;
    if (!force && now - this.lastPrint < interval) return;
    const dt = p.elapsedMs - this.lastWindow.t;
    if (dt > 0) {
      this.rate = ((p.framesDone - this.lastWindow.frames) / dt) * 1000;
      this.bottleneck = liveBottleneck(p, p.sinkActiveMs - this.lastWindow.active, dt);
    }
    this.lastWindow = { t: p.elapsedMs, frames: p.framesDone, active: p.sinkActiveMs };
    this.util = this.readUtil?.() ?? null;
    this.lastPrint = now;
    const pct = this.total ? p.framesDone / this.total : 0;
    const eta = this.rate > 0 ? (this.total - p.framesDone) / this.rate : null;
    const util = this.util === null ? 'GPU util n/a' : `GPU ${this.util}%`;
    const text = `${p.framesDone}/${this.total} frames  ${this.rate.toFixed(1)} fps  ${util}  bottleneck: ${this.bottleneck}${eta !== null ? `  eta ${seconds(eta * 1000)}` : ''}`;
    if (this.tty) {
      const width = 24;
      const filled = Math.round(pct * width);
      process.stderr.write(`\r\x1b[2K[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`);
    } else {
      process.stderr.write(`tandem render: ${text}\n`);
    }
  }

  end(): void {
    if (this.enabled && this.tty) process.stderr.write('\n');
  }
}

function summary(
  plan: RenderPlan,
  device: Device,
  workload: FrameWorkload,
  stats: PipelineStats | null,
  outcome: Awaited<ReturnType<typeof runRender>>,
  utilSamples: number[],
  interrupted: boolean,
): string {
  const p = outcome.progress;
  const fb = frameBytes(plan.format);
  // To the last frame written (a PNG sink encodes after it has handed the slot back).
  const wall = outcome.outputWallMs ?? stats?.wallMs ?? p.elapsedMs;
  const fps = wall > 0 ? (p.framesDone / wall) * 1000 : 0;
  const busy = (ms: number | null | undefined) =>
    ms === null || ms === undefined ? 'n/a' : `${seconds(ms)} (${((ms / wall) * 100).toFixed(0)}%)`;
  const lines = [
    `tandem render ${interrupted ? 'interrupted' : 'done'}: ${workload.name} ${plan.format.width}x${plan.format.height} ${plan.format.pixelFormat}, ${p.framesDone}/${plan.frames} frames → ${plan.out} (${plan.kind})`,
    `  device       ${device.properties.name} (${device.backend})`,
    ...(outcome.multi
      ? [
          `  devices      ${outcome.multi.devices} pipelines: ${outcome.multi.perDevice.map((d) => `#${d.deviceIndex} (GPU ${d.ordinal}) ${d.chunks} chunks`).join(', ')}; limited by ${outcome.multi.bottleneck.stage ?? 'nothing in particular'} (${outcome.multi.bottleneck.reason})`,
        ]
      : []),
    `  workload     ${workload.describe}`,
    `  pipeline     ${stats?.mode ?? plan.mode}, depth ${stats?.depth ?? plan.depth}${stats && stats.deviceSlots !== stats.depth ? ` (${stats.deviceSlots} on the device)` : ''}${stats?.depthReason ? ` (${stats.depthReason})` : ''}, ${plan.format.framesPerChunk} frames a chunk (${formatBytes(fb * plan.format.framesPerChunk)})`,
    `  wall         ${seconds(wall)}, ${fps.toFixed(1)} frames/s, ${formatBytes((p.framesDone * fb) / Math.max(wall / 1000, 1e-9))}/s off the GPU`,
    `  stage busy   compute ${busy(stats?.stages.compute.busyMs)}, copy ${busy(stats?.stages.copy.busyMs)}, sink ${busy(stats?.stages.sink.busyMs ?? p.sinkActiveMs)}`,
    `  bottleneck   ${stats?.bottleneck ?? (p.sinkActiveMs / Math.max(wall, 1e-9) > 0.9 ? 'sink' : 'GPU side (compute/copy; --report traces them)')}${stats?.efficiency != null ? `, efficiency ${stats.efficiency.toFixed(3)}` : ''}`,
    `  GPU util     ${utilSamples.length ? `NVML utilization.gpu mean ${(utilSamples.reduce((a, b) => a + b, 0) / utilSamples.length).toFixed(0)}% (${utilSamples.length} samples)` : 'n/a (no NVML on this device)'}`,
    `  output       ${outcome.sink.target}: ${formatBytes(outcome.sink.bytes)}, ${outcome.sink.frames} frames${interrupted && plan.kind === 'ffmpeg' && outcome.finalized ? ' (finalised: playable)' : ''}`,
  ];
  return `${lines.join('\n')}\n`;
}

export function registerRender(cli: CAC): void {
  cli
    .command(
      'render',
      'Render GPU frames into a video, a PNG sequence or a raw file, overlapping compute, copy and output',
    )
    .option('--workload <name>', `Frame workload: ${workloadNames().join(', ')}`, { default: 'fractal' })
    .option('--size <WxH>', 'Frame size, up to 7680x4320', { default: '1920x1080' })
    .option('--frames <n>', 'Frames to render', { default: 300 })
    .option(
      '--out <path>',
      'x.mp4/.mkv/.mov/.webm → ffmpeg; dir/ → PNG sequence; x.raw/.yuv → raw frames; pipe: (or --out=-) → raw frames on stdout',
    )
    .option('--format <fmt>', 'Pixel format made on the GPU: yuv420p (1.5 B/pixel) or rgba', { default: 'yuv420p' })
    .option('--frames-per-chunk <n>', 'Frames per pipeline chunk', { default: 4 })
    .option('--depth <n>', "Ring depth (pinned slots) 1..16 or 'auto'", { default: 'auto' })
    .option(
      '--device-slots <n>',
      "How many ring slots have device buffers: 1..depth or 'auto' (all of a number --depth; measured with --depth auto)",
      { default: 'auto' },
    )
    .option('--mode <mode>', 'overlap or serial (the one-stream baseline)', { default: 'overlap' })
    .option('--device <ordinal>', 'CUDA device', { default: 0 })
    .option(
      '--devices <spec>',
      "One pipeline per device, frames still written in order: 'all', a count (2), or ordinals (0,1; 0,0 = two pipelines on one GPU); with --fake a count of fake devices",
    )
    .option('--fps <n>', 'Frame rate written into the video', { default: 30 })
    .option('--cost <x>', 'Per-frame GPU cost multiplier (fractal iterations, decoder channels)', { default: 1 })
    .option('--report [file]', 'Write the HTML report (traced run) to file (default tandem-render-report.html)')
    .option('--png-workers <n>', 'PNG encoder threads (default: cores - 1)')
    .option('--fake', 'Run on the fake device (no GPU needed; slow JS kernels: keep frames small)')
    .option('--no-progress', 'No progress line on stderr')
    .example('tandem render --workload fractal --size 1920x1080 --frames 600 --out zoom.mp4')
    .example('tandem render --workload decoder --size 1280x720 --frames 120 --out frames/')
    .example('tandem render --devices all --frames 2400 --out zoom.mp4')
    .action(async (options: RenderCliOptions) => {
      process.exitCode = await render(options);
    });
}

/** Runs the command; resolves with the exit code (0, or 130 after Ctrl-C). */
export async function render(options: RenderCliOptions): Promise<number> {
  const plan = await planRender(options);
  const workload = createFrameWorkload(plan.workloadName, { ...plan.format, cost: plan.cost });
  const { device, devices, close: closeDevices } = await openRenderDevices(plan);
  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) {
      process.stderr.write('\ntandem render: second Ctrl-C, exiting without finalising the output\n');
      process.exit(EXIT_INTERRUPTED);
    }
    process.stderr.write('\ntandem render: stopping (finishing the output; Ctrl-C again to quit at once)\n');
    ac.abort(Object.assign(new Error('interrupted (SIGINT)'), { name: 'AbortError' }));
  };
  process.on('SIGINT', onSigint);
  const utilSamples: number[] = [];
  try {
    const sink = await openSink(plan);
    const readUtil = await gpuUtilization(device);
    const progress = new ProgressLine(
      plan.frames,
      readUtil
        ? () => {
            const u = readUtil();
            if (u !== null) utilSamples.push(u);
            return u;
          }
        : null,
      options.progress !== false,
    );
    let lastProgress: RenderProgress = { framesDone: 0, chunksDone: 0, elapsedMs: 0, sinkActiveMs: 0, sinkInFlight: 0 };
    // Between chunks too: a slow chunk must not freeze the line.
    const ticker = setInterval(() => progress.update(lastProgress), process.stderr.isTTY ? 500 : 5000);
    ticker.unref();
    let outcome;
    try {
      outcome = await runRender({
        device,
        devices,
        workload,
        sink,
        frames: plan.frames,
        depth: plan.depth,
        deviceSlots: plan.deviceSlots,
        mode: plan.mode,
        trace: plan.report !== null,
        signal: ac.signal,
        onChunk: (p) => {
          lastProgress = p;
          progress.update(p);
        },
      });
    } finally {
      clearInterval(ticker);
    }
    progress.update(outcome.progress, true);
    progress.end();
    const interrupted = ac.signal.aborted;
    if (outcome.error && !interrupted) throw outcome.error;
    process.stderr.write(summary(plan, device, workload, outcome.stats, outcome, utilSamples, interrupted));
    if (plan.report && outcome.stats) {
      const path = await writeRenderReport(plan, device, workload, outcome.stats, utilSamples);
      process.stderr.write(`  report       ${path}\n`);
    }
    return interrupted ? EXIT_INTERRUPTED : 0;
  } finally {
    process.off('SIGINT', onSigint);
    workload.close();
    await closeDevices();
  }
}

async function writeRenderReport(
  plan: RenderPlan,
  device: Device,
  workload: FrameWorkload,
  stats: PipelineStats,
  util: number[],
): Promise<string> {
  const { writeReport } = await import('../../profile/report.js');
  const { environment, withoutTimeline, timelineRecord, RESULTS_SCHEMA } = await import('../../profile/results.js');
  const { computeMetrics } = await import('../../profile/metrics.js');
  const id = `render-${workload.name}`;
  const tl = timelineRecord(id, `${workload.name} ${plan.format.width}x${plan.format.height} ${stats.mode}`, stats);
  const mean = util.length ? util.reduce((a, b) => a + b, 0) / util.length : null;
  await writeReport(plan.report!, {
    schema: RESULTS_SCHEMA,
    title: `tandem render: ${workload.name} ${plan.format.width}x${plan.format.height} ${plan.format.pixelFormat} → ${plan.kind}`,
    date: new Date().toISOString(),
    command: process.argv.slice(1),
    environment: environment(device),
    config: { ...plan },
    cells: [
      {
        id,
        workload: workload.name,
        mode: stats.mode,
        depth: stats.depth,
        ratio: null,
        measuredRatio: null,
        chunkBytes: workload.outputBytes,
        chunks: stats.chunks,
        params: { describe: workload.describe, cost: plan.cost, frames: plan.frames },
        alone: null,
        stats: withoutTimeline(stats),
        efficiency: stats.efficiency,
        copyOfPeak: null,
        traced: { wallMs: stats.wallMs, metrics: computeMetrics(stats) },
        traceCostPerChunkUs: null,
        nvml: util.length ? { samples: util.length, mean, max: Math.max(...util), min: Math.min(...util) } : null,
        peers: {},
      },
    ],
    peers: [],
    timelines: tl ? [tl] : [],
    notes: ['The render ran traced (per-chunk timing events), so its wall time includes their cost.'],
    files: { report: plan.report! },
  });
  return plan.report!;
}
