// Raw frames to disk, written straight from the pinned slot (FileHandle.write reads the pinned
// memory itself: no copy in JS). One file with positional writes, so several chunks may be in
// flight at once and still land in order; or one file per chunk. The file is written under a temporary name and
// renamed when complete, or kept under the partial name (staging.ts); a per-chunk file is renamed as it is written.
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { OutputChunk } from '../pipeline/types.js';
import { frameBytes, type FrameFormat } from '../formats/frame-format.js';
import { chunkFrames } from './chunk-frames.js';
import { SinkError, checkWritableDir, describeFsError } from './errors.js';
import { bytesAt, keepPartial, keepPartialSync, stagedFile, stagingFor } from './staging.js';
import type { Sink, SinkResult } from './types.js';

/** openRawSink() options: the output path, one file or one per chunk, the frame format. */
export interface RawSinkOptions {
  /** A file (one file for the run) or, with perChunk, a directory. */
  path: string;
  /** One file per chunk: <path>/chunk_000000.raw … Default false. */
  perChunk?: boolean;
  /**
   * The frame layout: lets the last, partial chunk write only its frames and places chunks by
   * frame index. Without it every chunk writes its whole slot at index × slot size.
   */
  format?: FrameFormat;
  /** Chunks written at once (PipelineOptions.sinkConcurrency). Default 2. */
  concurrency?: number;
}

/** Writes all of `bytes` at `position` (the kernel may write less than asked). */
async function writeAll(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done, position + done);
    if (bytesWritten === 0) throw Object.assign(new Error('write returned 0 bytes'), { code: 'EIO' });
    done += bytesWritten;
  }
}

/** A sink writing raw frames to one file (in order, several chunks in flight) or one file per chunk. */
export async function openRawSink(options: RawSinkOptions): Promise<Sink> {
  const perChunk = options.perChunk ?? false;
  const target = resolve(options.path);
  const concurrency = options.concurrency ?? 2;
  let file: FileHandle | null = null;
  const staged = perChunk ? null : await stagingFor(target);
  if (perChunk) {
    await checkWritableDir('raw', target);
  } else {
    await checkWritableDir('raw', dirname(target));
    try {
      file = staged ? await open(staged.temp, 'wx') : await open(target, 'w');
    } catch (err) {
      throw new SinkError('raw', null, describeFsError(err, target), { cause: err });
    }
  }
  const result: SinkResult = { target, bytes: 0, frames: 0, chunks: 0, busyMs: 0 };
  let closed = false;

  const write = async (chunk: OutputChunk<unknown>): Promise<void> => {
    if (closed) throw new SinkError('raw', chunk.index, 'write after close');
    const t0 = performance.now();
    let bytes = chunk.data;
    let position = chunk.index * chunk.data.byteLength;
    let frames = 0;
    if (options.format) {
      const cf = chunkFrames(chunk, options.format);
      bytes = cf.bytes;
      frames = cf.frames.length;
      position = cf.firstFrame * frameBytes(options.format);
    }
    const path = perChunk ? join(target, `chunk_${String(chunk.index).padStart(6, '0')}.raw`) : target;
    try {
      if (perChunk) {
        const temp = stagedFile(path).temp;
        try {
          const fh = await open(temp, 'wx');
          try {
            await writeAll(fh, bytes, 0);
          } finally {
            await fh.close();
          }
          await rename(temp, path);
        } catch (err) {
          await rm(temp, { force: true });
          throw err;
        }
      } else {
        await writeAll(file!, bytes, position);
      }
    } catch (err) {
      throw new SinkError('raw', chunk.index, describeFsError(err, path), { cause: err });
    }
    result.bytes += bytes.byteLength;
    result.frames += frames;
    result.chunks++;
    result.busyMs += performance.now() - t0;
  };

  /** Closes the file; true when this call did (the first close or abort). */
  const finish = async (): Promise<boolean> => {
    if (closed) return false;
    closed = true;
    const fh = file;
    file = null;
    if (fh) await fh.close();
    return true;
  };

  return {
    name: 'raw',
    concurrency,
    write,
    stats: () => ({ ...result }),
    async close() {
      if (closed) return { ...result };
      try {
        await finish();
        if (staged) await rename(staged.temp, target);
      } catch (err) {
        if (staged) result.file = await keepPartial(staged);
        throw new SinkError('raw', null, describeFsError(err, target), { cause: err });
      }
      if (staged) result.file = { path: target, bytes: (await bytesAt(target)) ?? 0, complete: true };
      return { ...result };
    },
    async abort() {
      if (!(await finish().catch(() => true))) return;
      if (staged) result.file = await keepPartial(staged);
    },
    abandon: () => (staged ? keepPartialSync(staged) : null),
  };
}
