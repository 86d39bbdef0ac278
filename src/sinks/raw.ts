// Raw frames to disk, written straight from the pinned slot (FileHandle.write reads the pinned
// memory itself: no copy in JS). One file with positional writes, so several chunks may be in
// flight at once and still land in order; or one file per chunk.
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { OutputChunk } from '../pipeline/types.js';
import { frameBytes, type FrameFormat } from '../formats/frame-format.js';
import { chunkFrames } from './chunk-frames.js';
import { SinkError, checkWritableDir, describeFsError } from './errors.js';
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
  if (perChunk) {
    await checkWritableDir('raw', target);
  } else {
    await checkWritableDir('raw', dirname(target));
    try {
      file = await open(target, 'w');
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
        const fh = await open(path, 'w');
        try {
          await writeAll(fh, bytes, 0);
        } finally {
          await fh.close();
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

  const finish = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    const fh = file;
    file = null;
    if (fh) {
      try {
        await fh.close();
      } catch (err) {
        throw new SinkError('raw', null, describeFsError(err, target), { cause: err });
      }
    }
  };

  return {
    name: 'raw',
    concurrency,
    write,
    stats: () => ({ ...result }),
    async close() {
      await finish();
      return { ...result };
    },
    async abort() {
      await finish().catch(() => {});
    },
  };
}
