// A Node Readable of the run's bytes, for piping (`.pipe(socket)`, `pipeline(r, gzip, file)`).
// A Readable's consumer may keep the buffers it gets, so here — and only here — the bytes are
// copied out of pinned memory. The host stage waits while the consumer is behind (backpressure).
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { FrameFormat } from '../formats/frame-format.js';
import { chunkFrames } from './chunk-frames.js';
import { SinkError } from './errors.js';
import type { Sink, SinkResult } from './types.js';

/** A Sink with a Readable of the run's bytes. */
export interface ReadableSink extends Sink {
  readonly readable: Readable;
}

/** A sink that is a Readable of the run's bytes (copied out of pinned memory); it waits while the reader is behind. */
export function readableSink(options: { format?: FrameFormat; highWaterMark?: number } = {}): ReadableSink {
  const result: SinkResult = { target: 'readable stream', bytes: 0, frames: 0, chunks: 0, busyMs: 0 };
  let wantMore: (() => void) | null = null;
  let ended = false;
  let failure: Error | null = null;
  const readable = new Readable({
    highWaterMark: options.highWaterMark ?? 64 * 1024 * 1024,
    read() {
      const w = wantMore;
      wantMore = null;
      w?.();
    },
  });
  return {
    name: 'readable',
    readable,
    concurrency: 1,
    write: async (chunk) => {
      if (failure)
        throw new SinkError('readable', chunk.index, `the stream was aborted: ${failure.message}`, { cause: failure });
      if (ended) throw new SinkError('readable', chunk.index, 'write after close');
      if (readable.destroyed)
        throw new SinkError('readable', chunk.index, 'the readable stream was destroyed by its consumer');
      const t0 = performance.now();
      const cf = options.format ? chunkFrames(chunk, options.format) : null;
      const bytes = cf ? cf.bytes : chunk.data;
      const more = readable.push(Buffer.from(bytes)); // copies
      result.chunks++;
      result.frames += cf ? cf.frames.length : 0;
      result.bytes += bytes.byteLength;
      if (!more) {
        await new Promise<void>((r) => {
          wantMore = r;
          readable.once('close', r);
        });
      }
      result.busyMs += performance.now() - t0;
    },
    stats: () => ({ ...result }),
    async close() {
      if (!ended) {
        ended = true;
        readable.push(null);
      }
      return { ...result };
    },
    async abort(reason) {
      if (ended) return;
      ended = true;
      failure = reason instanceof Error ? reason : new Error(String(reason ?? 'aborted'));
      readable.destroy(failure);
    },
  };
}
