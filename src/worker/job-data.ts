// The data of a `render` job and its check. A job is { type, ...fields }: the type becomes the
// BullMQ job name, the whole object its data. The render fields are `tandem render`'s options
// under the same names, so a job renders exactly what the same command line would; `out` is a
// path under the worker's --out-root. The check is pure (no file system, no device), so a
// submitter can run it before the job reaches a queue and a worker runs it again on arrival.
import { posix } from 'node:path';
import { UsageError } from '../util/errors.js';
import { PIXEL_FORMATS, parseFrameSize, validateFrameFormat, type PixelFormat } from '../formats/frame-format.js';
import { workloadNames } from '../workloads/registry.js';

export interface RenderJobData {
  type: 'render';
  /** 'fractal' (default), 'decoder' or 'synthetic'. */
  workload?: string;
  /** WIDTHxHEIGHT, default 1920x1080, at most 7680x4320. */
  size?: string;
  frames: number;
  /** Relative to the worker's --out-root: x.mp4 (ffmpeg), dir/ (PNG sequence), x.raw (raw frames). */
  out: string;
  format?: PixelFormat;
  framesPerChunk?: number;
  fps?: number;
  cost?: number;
  depth?: number | 'auto';
  deviceSlots?: number | 'auto';
  mode?: 'overlap' | 'serial';
}

/** A job for a user processor (`tandem worker --processor`): its type and whatever it reads. */
export interface CustomJobData {
  type: string;
  [field: string]: unknown;
}

export type JobData = RenderJobData | CustomJobData;

/** A job's data can never succeed as given: fails at once, never retried. */
export class JobDataError extends UsageError {}

/** Most frames one render job may ask for: a longer video is split into jobs by frame range. */
export const MAX_JOB_FRAMES = 1_000_000;

const RENDER_FIELDS: Record<keyof RenderJobData, 'string' | 'number' | 'number|auto'> = {
  type: 'string',
  workload: 'string',
  size: 'string',
  frames: 'number',
  out: 'string',
  format: 'string',
  framesPerChunk: 'number',
  fps: 'number',
  cost: 'number',
  depth: 'number|auto',
  deviceSlots: 'number|auto',
  mode: 'string',
};

/** Checks a render job's fields and fills the defaults; a JobDataError says what to change. */
export function checkRenderJob(data: unknown): Required<Omit<RenderJobData, 'deviceSlots'>> & RenderJobData {
  if (data === null || typeof data !== 'object' || Array.isArray(data))
    throw new JobDataError('a render job is an object: { type: "render", frames, out, ... }');
  const d = data as Record<string, unknown>;
  for (const [key, value] of Object.entries(d)) {
    const kind = RENDER_FIELDS[key as keyof RenderJobData];
    if (!kind)
      throw new JobDataError(
        `render job: unknown field '${key}'; the fields are ${Object.keys(RENDER_FIELDS).join(', ')}`,
      );
    const ok =
      kind === 'string'
        ? typeof value === 'string'
        : kind === 'number'
          ? typeof value === 'number'
          : typeof value === 'number' || value === 'auto';
    if (!ok)
      throw new JobDataError(
        `render job: '${key}' must be a ${kind.replace('|', ' or ')}, got ${JSON.stringify(value)}`,
      );
  }
  if (d.type !== undefined && d.type !== 'render')
    throw new JobDataError(`render job: type must be 'render', got '${String(d.type)}'`);
  const workload = (d.workload as string | undefined) ?? 'fractal';
  if (!workloadNames().includes(workload))
    throw new JobDataError(`render job: unknown workload '${workload}': choose one of ${workloadNames().join(', ')}`);
  const format = (d.format as PixelFormat | undefined) ?? 'yuv420p';
  const size = (d.size as string | undefined) ?? '1920x1080';
  const framesPerChunk = (d.framesPerChunk as number | undefined) ?? 4;
  wrap(() => validateFrameFormat({ ...parseFrameSize(size), pixelFormat: format, framesPerChunk }));
  if (!PIXEL_FORMATS.includes(format))
    throw new JobDataError(`render job: format must be ${PIXEL_FORMATS.join(' or ')}`);
  const frames = d.frames;
  if (typeof frames !== 'number' || !Number.isInteger(frames) || frames < 1 || frames > MAX_JOB_FRAMES)
    throw new JobDataError(
      `render job: frames must be a whole number from 1 to ${MAX_JOB_FRAMES}, got ${String(frames)}`,
    );
  const out = d.out;
  if (typeof out !== 'string' || out === '' || out.includes('\0'))
    throw new JobDataError("render job: out must name a file or a directory/ under the worker's --out-root");
  // Whether an absolute path is under the root only the worker knows; `..` out of it is plain here.
  const norm = posix.normalize(out);
  if (norm === '..' || norm.startsWith('../'))
    throw new JobDataError(`render job: out '${out}' is outside the worker's --out-root; give a path under it`);
  const mode = (d.mode as 'overlap' | 'serial' | undefined) ?? 'overlap';
  if (mode !== 'overlap' && mode !== 'serial')
    throw new JobDataError(`render job: mode must be overlap or serial, got '${mode}'`);
  return {
    type: 'render',
    workload,
    size,
    frames,
    out,
    format,
    framesPerChunk,
    fps: (d.fps as number | undefined) ?? 30,
    cost: (d.cost as number | undefined) ?? 1,
    depth: (d.depth as number | 'auto' | undefined) ?? 'auto',
    ...(d.deviceSlots !== undefined ? { deviceSlots: d.deviceSlots as number | 'auto' } : {}),
    mode,
  };
}

function wrap(check: () => void): void {
  try {
    check();
  } catch (err) {
    if (err instanceof UsageError) throw new JobDataError(`render job: ${err.message}`);
    throw err;
  }
}

/** The job's type: its `type` field; a job without one is a render job. */
export function jobType(data: unknown): string {
  const t = (data as { type?: unknown } | null)?.type;
  return typeof t === 'string' && t !== '' ? t : 'render';
}
