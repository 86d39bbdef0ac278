// PNG sequence: frames are copied out of the pinned slot (the slot goes back to the GPU at once),
// encoded on worker threads, and written as frame_000001.png … in frame order, even while
// several chunks are in the host stage at once. Returning the slot early frees the pipeline's
// sink permit, so the sink bounds its own backlog: a chunk is copied out only once fewer than
// `concurrency` chunks are still encoding; until then it keeps its slot and the pipeline waits.
// (Without that bound every chunk was copied out at once, encoding piled up in memory behind
// the workers, and the pipeline's wall ended long before the last PNG was written.)
// Frames are written into a hidden directory inside the output directory and moved up when the run completes, or
// that directory becomes <dir>/partial/ when it does not (staging.ts).
import { availableParallelism } from 'node:os';
import { lstat, mkdir, rename, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { OutputChunk } from '../pipeline/types.js';
import { validateFrameFormat, type FrameFormat } from '../formats/frame-format.js';
import { chunkFrames } from './chunk-frames.js';
import { SinkError, checkWritableDir, describeFsError } from './errors.js';
import { PNG_WORKER_SOURCE, type PngTask } from './png-worker.js';
import { keepPartial, keepPartialSync, stagedDirectory } from './staging.js';
import type { Sink, SinkResult } from './types.js';
import { WorkerPool } from './worker-pool.js';

/** openPngSink() options: the directory, the frame format, workers and compression. */
export interface PngSinkOptions {
  /** Output directory; created if its parent exists. */
  dir: string;
  format: FrameFormat;
  /** Encoder threads. Default: cores − 1, 1..8. */
  workers?: number;
  /** zlib level 1..9. Default 3. */
  level?: number;
  /** Number of the first file (frame 0). Default 1, as ffmpeg's image2 muxer. */
  startNumber?: number;
  /** Chunks in the host stage at once. Default: enough to keep every worker busy. */
  concurrency?: number;
}

export function pngFileName(frame: number, startNumber = 1): string {
  return `frame_${String(frame + startNumber).padStart(6, '0')}.png`;
}

/** A sink encoding each frame to a numbered PNG file on worker threads; checks the directory first. */
export async function openPngSink(options: PngSinkOptions): Promise<Sink> {
  validateFrameFormat(options.format);
  const dir = resolve(options.dir);
  try {
    await mkdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new SinkError(
        'png',
        null,
        `cannot create ${dir}: its parent ${dirname(dir)} does not exist (mkdir -p ${dirname(dir)}) or choose another output`,
        { cause: err },
      );
    }
    if (code !== 'EEXIST') throw new SinkError('png', null, describeFsError(err, dir), { cause: err });
  }
  await checkWritableDir('png', dir);
  const staged = stagedDirectory(dir);
  try {
    await mkdir(staged.temp);
  } catch (err) {
    throw new SinkError('png', null, describeFsError(err, staged.temp), { cause: err });
  }
  const { width, height, pixelFormat, framesPerChunk } = options.format;
  const workers = options.workers ?? Math.max(1, Math.min(8, availableParallelism() - 1));
  const level = options.level ?? 3;
  const startNumber = options.startNumber ?? 1;
  const pool = new WorkerPool(PNG_WORKER_SOURCE, workers, 'PNG encoder');
  const result: SinkResult = { target: dir, bytes: 0, frames: 0, chunks: 0, busyMs: 0 };
  /** Frame files are written one after another through this chain: names come out in order. */
  let tail: Promise<void> = Promise.resolve();
  let closed = false;
  /** The frame files written so far, in order. */
  const written: string[] = [];
  const concurrency = options.concurrency ?? Math.max(2, Math.ceil(workers / framesPerChunk) + 1);
  /** Chunks copied out and not yet written, and writers waiting for room among them. */
  let encoding = 0;
  const room: Array<() => void> = [];

  const write = async (chunk: OutputChunk<unknown>): Promise<void> => {
    if (closed) throw new SinkError('png', chunk.index, 'write after close');
    const t0 = performance.now();
    while (encoding >= concurrency) await new Promise<void>((r) => room.push(r));
    encoding++;
    try {
      await encodeChunk(chunk);
    } finally {
      encoding--;
      room.shift()?.();
    }
    result.chunks++;
    result.busyMs += performance.now() - t0;
  };

  const encodeChunk = async (chunk: OutputChunk<unknown>): Promise<void> => {
    const { firstFrame, frames } = chunkFrames(chunk, options.format);
    // Copy each frame out (a transfer list cannot take pinned memory), then hand the slot back.
    const copies = frames.map((f) => f.slice().buffer as ArrayBuffer);
    chunk.release();
    const encoded = copies.map((data) =>
      pool.run<ArrayBuffer>({ data, width, height, pixelFormat, level } satisfies PngTask, [data]),
    );
    for (const p of encoded) p.catch(() => {}); // reported through the chain below
    const done = encoded.map((p, k) => {
      const name = pngFileName(firstFrame + k, startNumber);
      const path = join(staged.temp, name);
      tail = tail.then(async () => {
        let png: ArrayBuffer;
        try {
          png = await p;
        } catch (err) {
          throw new SinkError(
            'png',
            chunk.index,
            `encoding frame ${firstFrame + k} failed: ${(err as Error).message}`,
            { cause: err },
          );
        }
        try {
          await writeFile(path, new Uint8Array(png));
        } catch (err) {
          throw new SinkError('png', chunk.index, describeFsError(err, path), { cause: err });
        }
        result.bytes += png.byteLength;
        result.frames++;
        written.push(name);
      });
      return tail;
    });
    await Promise.all(done);
  };

  /** Waits for the frames in flight and stops the encoders; true when this call did (the first close or abort). */
  const finish = async (): Promise<boolean> => {
    if (closed) return false;
    closed = true;
    await tail.catch(() => {});
    await pool.close();
    return true;
  };

  /** Moves every frame up into `dir`, after checking that nothing but an older frame file is in the way of any. */
  const publish = async (): Promise<void> => {
    for (const name of written) {
      const path = join(dir, name);
      const s = await lstat(path).catch(() => null);
      if (s && !s.isFile())
        throw new SinkError('png', null, `${path} is in the way (not a file): remove it or choose another directory`);
    }
    for (const name of written) {
      try {
        await rename(join(staged.temp, name), join(dir, name));
      } catch (err) {
        throw new SinkError('png', null, describeFsError(err, join(dir, name)), { cause: err });
      }
    }
    await rmdir(staged.temp);
  };

  return {
    name: 'png',
    concurrency,
    write,
    stats: () => ({ ...result }),
    async close() {
      if (!(await finish())) return { ...result };
      try {
        await publish();
      } catch (err) {
        result.file = await keepPartial(staged);
        throw err;
      }
      result.file = { path: dir, bytes: result.bytes, complete: true };
      return { ...result };
    },
    async abort() {
      if (await finish()) result.file = await keepPartial(staged);
    },
    abandon: () => keepPartialSync(staged),
  };
}
