// A render's plan: every option of `tandem render` (or of a render job) checked and turned into
// what runRender() needs, before any device is touched; and the sink its --out names, opened with
// output problems reported as usage errors (the user's to fix). Shared by the CLI and the worker.
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { UsageError } from '../util/errors.js';
import { formatBytes } from '../util/format.js';
import { FfmpegNotFoundError, openFfmpegSink } from '../sinks/ffmpeg.js';
import { SinkError } from '../sinks/errors.js';
import { openPngSink } from '../sinks/png.js';
import { openRawSink } from '../sinks/raw.js';
import { readableSink } from '../sinks/readable.js';
import type { Sink } from '../sinks/types.js';
import {
  PIXEL_FORMATS,
  frameBytes,
  parseFrameSize,
  type FrameFormat,
  type PixelFormat,
} from '../formats/frame-format.js';
import { workloadNames } from '../workloads/registry.js';

/** What to render, as `tandem render`'s options or a render job's data name it (strings or numbers). */
export interface RenderRequest {
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
  fps: number | string;
  cost: number | string;
  report?: string | boolean;
  fake?: boolean;
  pngWorkers?: number | string;
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

function positive(name: string, v: unknown, max = Number.MAX_VALUE): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number > 0, got '${String(v)}'`);
  if (n > max) throw new UsageError(`--${name} must be at most ${max}, got '${String(v)}'`);
  return n;
}

/** Kernels take frame indices and byte offsets within a chunk as 32-bit unsigned arguments. */
const KERNEL_U32_MAX = 2 ** 32 - 1;
/** --cost scales iteration and channel counts that the kernels take as 32-bit arguments; far below their limit. */
const MAX_COST = 10_000;

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
  fps: number;
  cost: number;
  report: string | null;
  fake: boolean;
  pngWorkers: number | undefined;
}

/** Checks every option and says what to change; touches no device. */
export async function planRender(o: RenderRequest): Promise<RenderPlan> {
  if (!workloadNames().includes(o.workload))
    throw new UsageError(`unknown workload '${o.workload}': choose one of ${workloadNames().join(', ')}`);
  const { width, height } = parseFrameSize(String(o.size));
  if (!PIXEL_FORMATS.includes(o.format as PixelFormat))
    throw new UsageError(`--format '${o.format}' is not supported: use ${PIXEL_FORMATS.join(' or ')}`);
  const frames = integer('frames', o.frames, 1);
  if (frames > KERNEL_U32_MAX)
    throw new UsageError(
      `--frames ${frames} is more than a kernel's 32-bit frame index can count (${KERNEL_U32_MAX}): render fewer frames`,
    );
  const framesPerChunk = integer('frames-per-chunk', o.framesPerChunk, 1, 256);
  const fb = frameBytes({ width, height, pixelFormat: o.format as PixelFormat });
  if (fb * framesPerChunk > KERNEL_U32_MAX + 1)
    throw new UsageError(
      `--frames-per-chunk ${framesPerChunk} at --size ${width}x${height} ${o.format} makes ${formatBytes(fb * framesPerChunk)} chunks; ` +
        `a chunk must stay within 4 GiB (kernels address it with 32-bit offsets): lower --frames-per-chunk`,
    );
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
    fps: positive('fps', o.fps),
    cost: positive('cost', o.cost, MAX_COST),
    report,
    fake: o.fake === true,
    pngWorkers: o.pngWorkers === undefined ? undefined : integer('png-workers', o.pngWorkers, 1, 64),
  };
}

/** Output problems found before any frame is made are the user's to fix: usage errors (exit 2). */
export async function openSink(plan: RenderPlan, onStdoutClosed: (err: Error) => void = () => {}): Promise<Sink> {
  try {
    return await openSinkFor(plan, onStdoutClosed);
  } catch (err) {
    if ((err instanceof SinkError && err.chunkIndex === null) || err instanceof FfmpegNotFoundError)
      throw new UsageError(err.message);
    throw err;
  }
}

async function openSinkFor(plan: RenderPlan, onStdoutClosed: (err: Error) => void): Promise<Sink> {
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
      // EPIPE: the reader went away (`| head`): the run stops as if interrupted, exit 141. Any other error (ENOSPC
      // on a redirected stdout) fails the next write, and the run, with that error.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') onStdoutClosed(err);
        void s.abort(err);
      });
      return s;
    }
  }
}
