// ffmpeg as the host stage: raw frames on its stdin, straight from the pinned slot. The slot is
// released only when the pipe has taken its bytes (the write callback), stdin backpressure is
// respected, and ffmpeg's exit code and the tail of its stderr end up in any error.
// ffmpeg's exit code alone does not prove the video was written (ffmpeg 5.1 exits 0 after "Error writing trailer …
// No space left on device"), so close() checks the output itself: ffmpeg exited 0 and reported no write error, the
// file exists and is not empty, and ffprobe counts exactly the frames sent. Only then is it renamed to its final name
// (staging.ts); otherwise it is kept as the partial file and close() throws SINK_OUTPUT_INVALID.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rename } from 'node:fs/promises';
import { constants as fsConstants, accessSync, statSync } from 'node:fs';
import { delimiter, dirname, extname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { OutputChunk } from '../pipeline/types.js';
import { validateFrameFormat, type FrameFormat } from '../formats/frame-format.js';
import { TandemError } from '../util/errors.js';
import { chunkFrames } from './chunk-frames.js';
import { SinkError, checkWritableDir, describeFsError } from './errors.js';
import { bytesAt, keepPartial, keepPartialSync, stagingFor } from './staging.js';
import type { Sink, SinkResult } from './types.js';

/** No ffmpeg executable (code 'FFMPEG_NOT_FOUND'): says where it looked and how to point at one. */
export class FfmpegNotFoundError extends TandemError {
  override readonly name: string = 'FfmpegNotFoundError';
  constructor(
    readonly searched: readonly string[],
    detail?: string,
  ) {
    super(
      'FFMPEG_NOT_FOUND',
      `ffmpeg not found${detail ? ` (${detail})` : ''}: looked in ${searched.join(', ') || '(empty PATH)'}. ` +
        `Install it (apt-get install ffmpeg) or set TANDEM_FFMPEG to the ffmpeg executable`,
    );
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** ffmpeg from TANDEM_FFMPEG, else the first on PATH; a FfmpegNotFoundError says how to get one. */
export function findFfmpeg(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.TANDEM_FFMPEG;
  if (explicit) {
    if (isExecutable(explicit)) return explicit;
    throw new FfmpegNotFoundError([explicit], `TANDEM_FFMPEG=${explicit} is not an executable file`);
  }
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const d of dirs) {
    const p = join(d, 'ffmpeg');
    if (isExecutable(p)) return p;
  }
  throw new FfmpegNotFoundError(dirs);
}

/**
 * ffprobe from TANDEM_FFPROBE, else the one next to `ffmpeg` (the same package installs both), else the first on PATH;
 * null when there is none (the frame count is then not checked).
 */
export function findFfprobe(ffmpeg: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.TANDEM_FFPROBE) return isExecutable(env.TANDEM_FFPROBE) ? env.TANDEM_FFPROBE : null;
  const beside = join(dirname(ffmpeg), 'ffprobe');
  if (isExecutable(beside)) return beside;
  for (const d of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const p = join(d, 'ffprobe');
    if (isExecutable(p)) return p;
  }
  return null;
}

/** The number of video frames ffprobe finds in `path` (packets of the first video stream; no decoding). */
export function probeFrames(ffprobe: string, path: string): Promise<{ frames: number | null; said: string }> {
  const args = ['-v', 'error', '-select_streams', 'v:0', '-count_packets'];
  args.push('-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', path);
  return new Promise((res) => {
    execFile(ffprobe, args, { timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const n = /^\s*(\d+)\s*$/.exec(stdout ?? '');
      const said = `${stderr ?? ''}${err && !n ? ` ${err.message}` : ''}`.trim().split('\n').slice(-3).join(' | ');
      res({ frames: n ? Number(n[1]) : null, said });
    });
  });
}

/** Lines of ffmpeg's stderr that mean the output was not written completely, whatever its exit code says. */
const WRITE_FAILED = /Error writing trailer|No space left on device|Disk quota exceeded|File too large|I\/O error/i;

/** openFfmpegSink() options: the output file, the frame format and frame rate, ffmpeg's codec arguments. */
export interface FfmpegSinkOptions {
  /** Output file; the container comes from the extension (.mp4, .mkv, .mov, .webm, .y4m …). */
  path: string;
  format: FrameFormat;
  /** Frames per second. Default 30. */
  fps?: number;
  /** Video codec for .mp4/.mov/.mkv/.m4v. Default libx264. */
  codec?: string;
  /** x264 preset. Default 'veryfast': the encoder should keep up with the GPU. */
  preset?: string;
  /** Extra output options, placed before the output path. */
  outputArgs?: readonly string[];
  /** ffmpeg executable; default findFfmpeg(). */
  ffmpeg?: string;
  /** How much of ffmpeg's stderr to keep for error messages. Default 4000 characters. */
  stderrTail?: number;
  /** ffprobe, to count the frames in the finished file; default findFfprobe(ffmpeg); null: do not count. */
  ffprobe?: string | null;
}

const H264_CONTAINERS = new Set(['.mp4', '.mov', '.mkv', '.m4v']);

/** The ffmpeg command line for the options (exported for tests and --dry-run style messages). */
export function ffmpegArgs(options: FfmpegSinkOptions): string[] {
  const { width, height, pixelFormat } = options.format;
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'rawvideo',
    '-pix_fmt',
    pixelFormat,
    '-s',
    `${width}x${height}`,
    '-r',
    String(options.fps ?? 30),
    // The GPU wrote BT.709 limited range: say so, so nothing reinterprets it as BT.601.
    ...(pixelFormat === 'yuv420p' ? ['-color_range', 'tv', '-colorspace', 'bt709'] : []),
    '-i',
    'pipe:0',
  ];
  if (H264_CONTAINERS.has(extname(options.path).toLowerCase())) {
    args.push('-c:v', options.codec ?? 'libx264', '-preset', options.preset ?? 'veryfast', '-pix_fmt', 'yuv420p');
    if (pixelFormat === 'rgba') args.push('-vf', 'scale=out_color_matrix=bt709:out_range=tv');
    args.push('-color_primaries', 'bt709', '-color_trc', 'bt709', '-colorspace', 'bt709', '-color_range', 'tv');
  }
  args.push(...(options.outputArgs ?? []), options.path);
  return args;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A Sink that feeds an ffmpeg process. */
export interface FfmpegSink extends Sink {
  /** The ffmpeg process id (for diagnostics). */
  readonly pid: number | undefined;
  readonly args: readonly string[];
}

/** A sink piping raw frames into an ffmpeg process that encodes them; close() waits for the file. */
export async function openFfmpegSink(options: FfmpegSinkOptions): Promise<FfmpegSink> {
  validateFrameFormat(options.format);
  const ffmpeg = options.ffmpeg ?? findFfmpeg();
  const ffprobe = options.ffprobe === undefined ? findFfprobe(ffmpeg) : options.ffprobe;
  const target = resolve(options.path);
  await checkWritableDir('ffmpeg', dirname(target));
  const staged = await stagingFor(target);
  const tailMax = options.stderrTail ?? 4000;
  let stderr = '';
  // Its own process group: a Ctrl-C in the terminal reaches tandem only, and tandem then closes
  // ffmpeg's stdin so the file is finalised instead of cut off.
  const args = ffmpegArgs({ ...options, path: staged?.temp ?? target });
  const child: ChildProcess = spawn(ffmpeg, args, {
    stdio: ['pipe', 'ignore', 'pipe'],
    detached: true,
  });
  const stdin = child.stdin!;
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    stderr = (stderr + s).slice(-tailMax);
  });
  let exit: Exit | null = null;
  let spawnError: Error | null = null;
  const exited = new Promise<Exit>((res) => {
    child.once('error', (err) => {
      spawnError = err;
      exit ??= { code: null, signal: null };
      res(exit);
    });
    child.once('close', (code, signal) => {
      exit = { code, signal };
      res(exit);
    });
  });
  // EPIPE etc. surface through write callbacks and the exit status; keep them from crashing the process.
  stdin.on('error', () => {});

  const describeSaid = (): string =>
    stderr.trim() ? `; ffmpeg said: ${stderr.trim().split('\n').slice(-6).join(' | ')}` : '';
  const describeExit = (e: Exit): string => {
    const how = spawnError
      ? `could not run ${ffmpeg}: ${spawnError.message}`
      : e.signal
        ? `ffmpeg was killed by ${e.signal}`
        : `ffmpeg exited with code ${e.code}`;
    return `${how}${describeSaid()}`;
  };

  const result: SinkResult = { target, bytes: 0, frames: 0, chunks: 0, busyMs: 0 };
  let ended = false;
  let writeChain: Promise<void> = Promise.resolve();

  const writeBytes = (index: number, bytes: Uint8Array): Promise<void> => {
    // A Buffer over the same pinned memory: the pipe reads it in place until the callback.
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return new Promise<void>((res, rej) => {
      let settled = false;
      const fail = (why: string, cause?: unknown) => {
        if (settled) return;
        settled = true;
        rej(new SinkError('ffmpeg', index, why, { cause }));
      };
      exited.then((e) => fail(`${describeExit(e)} while chunk ${index} was being written`));
      // Done when the pipe has the bytes (callback) and, if the write hit the high-water mark,
      // after 'drain' (which Node emits before the callback, so listen before it can fire).
      let written = false;
      let drained = true;
      const maybeDone = () => {
        if (settled || !written || !drained) return;
        settled = true;
        res();
      };
      const ok = stdin.write(buf, (err) => {
        if (err) {
          // Let the exit status arrive: it says more than EPIPE does.
          void Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]).then(() =>
            fail(
              exit
                ? `${describeExit(exit)} while chunk ${index} was being written`
                : `writing to ffmpeg failed: ${err.message}`,
              err,
            ),
          );
          return;
        }
        written = true;
        maybeDone();
      });
      if (!ok) {
        drained = false;
        stdin.once('drain', () => {
          drained = true;
          maybeDone();
        });
      }
    });
  };

  const write = async (chunk: OutputChunk<unknown>): Promise<void> => {
    if (ended) throw new SinkError('ffmpeg', chunk.index, 'write after close');
    if (exit) throw new SinkError('ffmpeg', chunk.index, describeExit(exit));
    const t0 = performance.now();
    const { frames, bytes } = chunkFrames(chunk, options.format);
    // Chunks reach the pipe in index order even when several are in the host stage at once.
    const mine = writeChain.then(() => writeBytes(chunk.index, bytes));
    writeChain = mine.catch(() => {});
    await mine;
    result.bytes += bytes.byteLength;
    result.frames += frames.length;
    result.chunks++;
    result.busyMs += performance.now() - t0;
  };

  const finish = async (): Promise<Exit> => {
    if (!ended) {
      ended = true;
      await writeChain;
      stdin.end();
    }
    return exited;
  };

  const keepAsPartial = async (): Promise<string | null> => {
    if (!staged) return null;
    const kept = await keepPartial(staged);
    const finalized = !spawnError && exit?.code === 0 && !WRITE_FAILED.test(stderr);
    result.file = kept && { ...kept, finalized };
    return kept?.path ?? null;
  };

  /** Why the finished output is not the video that was sent, or null when it is. */
  const outputProblem = async (e: Exit): Promise<string | null> => {
    if (spawnError || e.code !== 0) return describeExit(e);
    const said = stderr
      .trim()
      .split('\n')
      .filter((l) => WRITE_FAILED.test(l));
    if (said.length) return `ffmpeg exited 0 but could not write the file: ${said.slice(-3).join(' | ')}`;
    if (!staged) return null; // a device or a pipe: nothing to look at
    const bytes = await bytesAt(staged.temp);
    if (!bytes) return `ffmpeg exited 0 but wrote ${bytes === null ? 'no file' : 'an empty file'}${describeSaid()}`;
    if (ffprobe === null) return null;
    const probe = await probeFrames(ffprobe, staged.temp);
    if (probe.frames === result.frames) return null;
    const found = probe.frames === null ? 'no readable video stream' : `${probe.frames} frames`;
    return (
      `ffmpeg exited 0 but ffprobe finds ${found} of the ${result.frames} sent in the ${bytes}-byte file` +
      `${probe.said ? ` (ffprobe said: ${probe.said})` : ''}${describeSaid()}`
    );
  };

  return {
    name: 'ffmpeg',
    pid: child.pid,
    args,
    concurrency: 2,
    write,
    stats: () => ({ ...result }),
    async close() {
      if (ended) {
        // After abort(): a process that failed still says so.
        const e = await exited;
        if (spawnError || e.code !== 0) throw new SinkError('ffmpeg', null, `${describeExit(e)} (writing ${target})`);
        return { ...result };
      }
      const problem = await outputProblem(await finish());
      if (problem) {
        const kept = await keepAsPartial();
        const where = kept ? `what it wrote is kept as ${kept}` : 'nothing was kept';
        throw new SinkError(
          'ffmpeg',
          null,
          `${target} was not written completely: ${problem}. Check the free space and the ffmpeg command, then run again; ${where}`,
          { code: 'SINK_OUTPUT_INVALID' },
        );
      }
      if (!staged) return { ...result };
      try {
        await rename(staged.temp, target);
      } catch (err) {
        await keepAsPartial();
        throw new SinkError('ffmpeg', null, describeFsError(err, target), { cause: err });
      }
      result.file = { path: target, bytes: (await bytesAt(target)) ?? 0, complete: true };
      return { ...result };
    },
    async abort() {
      // Closing stdin lets ffmpeg write the trailer (the moov atom of an mp4): a playable file.
      if (ended) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
      try {
        await finish();
      } finally {
        clearTimeout(timer);
      }
      await keepAsPartial();
    },
    abandon: () => (staged ? keepPartialSync(staged) : null),
  };
}
