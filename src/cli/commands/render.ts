// `tandem render`: a GPU frame workload streamed into a video (ffmpeg), a PNG sequence or a raw
// file while the next frames are computed. Progress and the summary go to stderr; with
// `--out -` the raw frames go to stdout. Every way a run can end prints the summary (what was written, where) and
// exits with one code (docs/failures.md): 0 done; 1 failed; 2 a usage error; 128 + the signal's number after SIGINT
// (130), SIGTERM (143) or SIGHUP (129): the run stops, the output is finalised and kept under its partial name
// (zoom.partial.mp4, playable); a second signal exits at once, keeping what was written under the partial name; 141
// when stdout (--out -) was closed by its reader.
import type { CAC } from 'cac';
import type { Device } from '../../pipeline/device.js';
import { formatBytes } from '../../util/format.js';
import { AbortError } from '../../util/errors.js';
import type { PipelineStats } from '../../pipeline/types.js';
import { SinkError } from '../../sinks/errors.js';
import type { Sink, SinkResult } from '../../sinks/types.js';
import { frameBytes } from '../../formats/frame-format.js';
import { createFrameWorkload, workloadNames } from '../../workloads/registry.js';
import { runRender, type RenderProgress } from '../../render/render.js';
import { openSink, planRender, type RenderPlan, type RenderRequest } from '../../render/plan.js';
import { ProgressLine, seconds } from '../progress.js';
import { openDeviceList, parseDeviceList, type DeviceList } from '../device-list.js';
import type { FrameWorkload } from '../../workloads/types.js';
import { EXIT_INTERRUPTED } from '../run-cli.js';
import { GPU_OPTION_HELP, useFakeDevice } from '../backend.js';

/** `tandem render`'s options: a render request plus what only the command line has. */
export interface RenderCliOptions extends RenderRequest {
  devices?: number | string;
  gpu?: boolean;
  progress?: boolean;
}

/** Exit codes: 128 + the signal's number, as a shell reports a process the signal ended; 141 is SIGPIPE's. */
export const EXIT_SIGNAL: Readonly<Record<'SIGINT' | 'SIGTERM' | 'SIGHUP', number>> = {
  SIGINT: EXIT_INTERRUPTED,
  SIGTERM: 143,
  SIGHUP: 129,
};
export const EXIT_STDOUT_CLOSED = 141;

/** The render's plan plus --devices: one pipeline per entry (a GPU may repeat), or null for --device alone. */
export interface CliRenderPlan extends RenderPlan {
  devices: DeviceList | null;
}

/** planRender() and --devices, checked before any device is touched. */
export async function planCliRender(o: RenderCliOptions): Promise<CliRenderPlan> {
  const plan = await planRender(o);
  return { ...plan, devices: o.devices === undefined ? null : parseDeviceList(o.devices) };
}

async function openDevice(plan: CliRenderPlan): Promise<Device> {
  if (plan.fake) {
    const { FakeDevice } = await import('../../testing/index.js');
    return new FakeDevice({ name: 'tandem fake device' });
  }
  const { open } = await import('../../pipeline/device.js');
  return open(plan.device);
}

/** The run's devices: --device alone, or one pipeline per --devices entry. */
async function openRenderDevices(
  plan: CliRenderPlan,
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
    fakeOptions: { name: 'tandem fake device' },
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

function summary(
  plan: RenderPlan,
  device: Device,
  workload: FrameWorkload,
  stats: PipelineStats | null,
  outcome: Awaited<ReturnType<typeof runRender>>,
  utilSamples: number[],
  status: string,
): string {
  const p = outcome.progress;
  const fb = frameBytes(plan.format);
  // To the last frame written (a PNG sink encodes after it has handed the slot back).
  const wall = outcome.outputWallMs ?? stats?.wallMs ?? p.elapsedMs;
  const fps = wall > 0 ? (p.framesDone / wall) * 1000 : 0;
  const busy = (ms: number | null | undefined) =>
    ms === null || ms === undefined ? 'n/a' : `${seconds(ms)} (${((ms / wall) * 100).toFixed(0)}%)`;
  const util = utilSamples.length
    ? `NVML utilization.gpu mean ${(utilSamples.reduce((a, b) => a + b, 0) / utilSamples.length).toFixed(0)}% ` +
      `(${utilSamples.length} samples)`
    : 'n/a (no NVML on this device)';
  const lines = [
    `tandem render ${status}: ${workload.name} ${plan.format.width}x${plan.format.height} ${plan.format.pixelFormat}, ` +
      `${p.framesDone}/${plan.frames} frames → ${plan.out} (${plan.kind})`,
    `  device       ${device.properties.name} (${device.backend})`,
    ...(outcome.multi
      ? [
          `  devices      ${outcome.multi.devices} pipelines: ` +
            `${outcome.multi.perDevice.map((d) => `#${d.deviceIndex} (GPU ${d.ordinal}) ${d.chunks} chunks`).join(', ')}; ` +
            `limited by ${outcome.multi.bottleneck.stage ?? 'nothing in particular'} (${outcome.multi.bottleneck.reason})`,
        ]
      : []),
    `  workload     ${workload.describe}`,
    `  pipeline     ${stats?.mode ?? plan.mode}, depth ${stats?.depth ?? plan.depth}` +
      `${stats && stats.deviceSlots !== stats.depth ? ` (${stats.deviceSlots} on the device)` : ''}` +
      `${stats?.depthReason ? ` (${stats.depthReason})` : ''}, ` +
      `${plan.format.framesPerChunk} frames a chunk (${formatBytes(fb * plan.format.framesPerChunk)})`,
    `  wall         ${seconds(wall)}, ${fps.toFixed(1)} frames/s, ${formatBytes((p.framesDone * fb) / Math.max(wall / 1000, 1e-9))}/s off the GPU`,
    `  stage busy   compute ${busy(stats?.stages.compute.busyMs)}, copy ${busy(stats?.stages.copy.busyMs)}, ` +
      `sink ${busy(stats?.stages.sink.busyMs ?? p.sinkActiveMs)}`,
    `  bottleneck   ${runBottleneck(stats, p, wall)}${stats?.efficiency != null ? `, efficiency ${stats.efficiency.toFixed(3)}` : ''}`,
    `  GPU util     ${util}`,
    `  output       ${outputLine(plan, outcome.sink)}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** The whole run's bottleneck: the traced figure where there is one, else the host stage's busy share of the wall. */
function runBottleneck(stats: PipelineStats | null, p: RenderProgress, wallMs: number): string {
  if (stats?.bottleneck) return stats.bottleneck;
  return p.sinkActiveMs / Math.max(wallMs, 1e-9) > 0.9
    ? 'sink (host stage)'
    : 'GPU (compute/copy; --report traces them)';
}

/** What is on disk now: the file's own size (a video's is not the bytes sent to ffmpeg), or where a partial went. */
function outputLine(plan: RenderPlan, sink: SinkResult): string {
  const sent = `${sink.frames} frames, ${formatBytes(sink.bytes)} ${plan.kind === 'ffmpeg' ? 'sent to ffmpeg' : 'written'}`;
  if (sink.file === undefined) return `${sink.target}: ${sent}`;
  if (sink.file === null) return `nothing kept (${sent}; no output under ${sink.target})`;
  const what = sink.file.complete
    ? ''
    : plan.kind !== 'ffmpeg'
      ? ' (partial)'
      : sink.file.finalized
        ? ' (partial, finalised by ffmpeg: playable)'
        : ' (partial, not finalised: ffmpeg did not finish it)';
  return `${sink.file.path}${what}: ${formatBytes(sink.file.bytes)} on disk; ${sent}`;
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
      'x.mp4/.mkv/.mov/.webm → ffmpeg; dir/ → PNG sequence; x.raw/.yuv → raw frames; - (or pipe:) → raw frames on stdout',
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
      "One pipeline per device, frames still written in order: 'all', a count (2), " +
        'or ordinals (0,1; 0,0 = two pipelines on one GPU); with --fake a count of fake devices',
    )
    .option('--fps <n>', 'Frame rate written into the video', { default: 30 })
    .option('--cost <x>', 'Per-frame GPU cost multiplier (fractal iterations, decoder channels)', { default: 1 })
    .option('--report [file]', 'Write the HTML report (traced run) to file (default tandem-render-report.html)')
    .option('--png-workers <n>', 'PNG encoder threads (default: cores - 1)')
    .option(
      '--fake',
      'Run on the fake device (no GPU needed; slow JS kernels: keep frames small; the default where no GPU is usable)',
    )
    .option('--gpu', GPU_OPTION_HELP)
    .option('--no-progress', 'No progress line on stderr')
    .example('tandem render --workload fractal --size 1920x1080 --frames 600 --out zoom.mp4')
    .example('tandem render --workload decoder --size 1280x720 --frames 120 --out frames/')
    .example('tandem render --devices all --frames 2400 --out zoom.mp4')
    .action(async (options: RenderCliOptions) => {
      process.exitCode = await render(options);
    });
}

/** Why a run stopped early, when it was told to: a signal, or the reader of stdout going away. */
interface StopRequest {
  why: string;
  code: number;
}

/** Runs the command; resolves with the exit code (see the comment at the top). */
export async function render(options: RenderCliOptions): Promise<number> {
  const plan = await planCliRender(options);
  plan.fake = useFakeDevice('render', options);
  const workload = createFrameWorkload(plan.workloadName, { ...plan.format, cost: plan.cost });
  const { device, devices, close: closeDevices } = await openRenderDevices(plan);
  const ac = new AbortController();
  let stop: StopRequest | null = null;
  let sink: Sink | null = null;
  const requestStop = (request: StopRequest) => {
    if (stop) return;
    stop = request;
    // The fake device's frames in flight are thrown away: skip their JS rather than wait for it.
    for (const d of devices) (d as { abandonKernels?: () => void }).abandonKernels?.();
    ac.abort(new AbortError(`interrupted (${request.why})`));
  };
  const onSignal = (signal: keyof typeof EXIT_SIGNAL) => {
    if (stop) {
      // The second signal: no waiting for the output to be finalised.
      const kept = sink?.abandon?.() ?? null;
      process.stderr.write(
        `\ntandem render: ${signal} again, exiting at once; ${kept ? `what was written is kept as ${kept}` : 'no output was kept'}\n`,
      );
      process.exit(stop.code);
    }
    process.stderr.write(
      `\ntandem render: ${signal}: stopping and finishing the output (${signal} again to quit at once)\n`,
    );
    requestStop({ why: signal, code: EXIT_SIGNAL[signal] });
  };
  const handlers = (Object.keys(EXIT_SIGNAL) as Array<keyof typeof EXIT_SIGNAL>).map(
    (signal) => [signal, () => onSignal(signal)] as const,
  );
  for (const [signal, handler] of handlers) process.on(signal, handler);
  const utilSamples: number[] = [];
  try {
    sink = await openSink(plan, (err) =>
      requestStop({ why: `stdout closed: ${err.message}`, code: EXIT_STDOUT_CLOSED }),
    );
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
        onChunk: (p) => progress.update(p),
      });
    } catch (err) {
      progress.end(null);
      throw err;
    }
    progress.end(outcome.progress);
    const stopped = stop as StopRequest | null;
    const status = stopped ? `interrupted (${stopped.why})` : outcome.error ? 'failed' : 'done';
    process.stderr.write(summary(plan, device, workload, outcome.stats, outcome, utilSamples, status));
    if (outcome.error && !stopped) {
      const e = outcome.error;
      // A failure while the output was being finalised has no chunk: say which stage it belongs to.
      if (e instanceof SinkError && e.chunkIndex === null)
        throw Object.assign(new Error(`stage 'sink' failed while finishing the output: ${e.message}`, { cause: e }), {
          code: e.code,
        });
      throw e;
    }
    if (plan.report && outcome.stats) {
      const path = await writeRenderReport(
        plan,
        device,
        workload,
        outcome.stats,
        utilSamples,
        outcome.progress.framesDone,
      );
      process.stderr.write(`  report       ${path}\n`);
    }
    return stopped ? stopped.code : 0;
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
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
  framesDone: number,
): Promise<string> {
  const { writeReport } = await import('../../profile/report.js');
  const { environment, withoutTimeline, timelineRecord, RESULTS_SCHEMA } = await import('../../profile/results.js');
  const { computeMetrics } = await import('../../profile/metrics.js');
  const id = `render-${workload.name}`;
  const tl = timelineRecord(id, `${workload.name} ${plan.format.width}x${plan.format.height} ${stats.mode}`, stats);
  const mean = util.length ? util.reduce((a, b) => a + b, 0) / util.length : null;
  await writeReport(plan.report!, {
    schema: RESULTS_SCHEMA,
    kind: 'render',
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
        params: { describe: workload.describe, cost: plan.cost, frames: plan.frames, framesDone },
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
