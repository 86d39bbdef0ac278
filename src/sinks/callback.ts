// Sinks for users' own code: a callback that gets each chunk's frames (views of pinned memory,
// valid until the callback's promise settles), and an async iterator that hands chunks out one
// at a time (a chunk's memory stays valid until the consumer asks for the next one).
import { performance } from 'node:perf_hooks';
import type { OutputChunk } from '../pipeline/types.js';
import type { FrameFormat } from '../formats/frame-format.js';
import { chunkFrames } from './chunk-frames.js';
import { SinkError } from './errors.js';
import type { Sink, SinkResult } from './types.js';

/** What callbackSink()'s function gets per chunk: the chunk's frames as views of pinned memory. */
export interface FrameBatch {
  chunkIndex: number;
  firstFrame: number;
  /** One zero-copy view per frame (or the whole chunk as one, without a format). Copy to keep. */
  frames: Uint8Array[];
}

/** A sink calling `fn` with each chunk's frames, views of pinned memory valid until its promise settles. */
export function callbackSink(
  fn: (batch: FrameBatch, chunk: OutputChunk<unknown>) => void | Promise<void>,
  options: { format?: FrameFormat; concurrency?: number; name?: string } = {},
): Sink {
  const result: SinkResult = { target: options.name ?? 'callback', bytes: 0, frames: 0, chunks: 0, busyMs: 0 };
  let closed = false;
  return {
    name: 'callback',
    concurrency: options.concurrency ?? 1,
    write: async (chunk) => {
      if (closed) throw new SinkError('callback', chunk.index, 'write after close');
      const t0 = performance.now();
      const batch: FrameBatch = options.format
        ? (({ firstFrame, frames }) => ({ chunkIndex: chunk.index, firstFrame, frames }))(
            chunkFrames(chunk, options.format),
          )
        : { chunkIndex: chunk.index, firstFrame: chunk.index, frames: [chunk.data] };
      await fn(batch, chunk);
      result.chunks++;
      result.frames += batch.frames.length;
      result.bytes += batch.frames.reduce((n, f) => n + f.byteLength, 0);
      result.busyMs += performance.now() - t0;
    },
    stats: () => ({ ...result }),
    async close() {
      closed = true;
      return { ...result };
    },
    async abort() {
      closed = true;
    },
  };
}

/**
 * Pull-style consumption: `for await (const chunk of sink)` in one task while the pipeline runs
 * in another. The pipeline waits (its slot stays held) until the consumer moves on; close()
 * after the run ends the loop, abort(err) makes the loop throw.
 */
/** A Sink to iterate with for await: each chunk is handed to the loop in order. */
export interface IteratorSink<I = unknown> extends Sink<I>, AsyncIterable<OutputChunk<I>> {}

/** A sink that is also an async iterable: a chunk's memory stays valid until the loop asks for the next. */
export function iteratorSink<I = unknown>(): IteratorSink<I> {
  const result: SinkResult = { target: 'async iterator', bytes: 0, frames: 0, chunks: 0, busyMs: 0 };
  /** Chunks handed in by the pipeline, each with the resolver that frees its slot. */
  const waiting: { chunk: OutputChunk<I>; taken: () => void }[] = [];
  let wake: (() => void) | null = null;
  let finished = false;
  let failure: unknown = null;
  let current: (() => void) | null = null;
  let iterating = false;

  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };

  const sink: IteratorSink<I> = {
    name: 'iterator',
    concurrency: 1,
    write: (chunk) => {
      if (finished) return Promise.reject(new SinkError('iterator', chunk.index, 'write after close'));
      const t0 = performance.now();
      return new Promise<void>((taken) => {
        waiting.push({
          chunk,
          taken: () => {
            result.chunks++;
            result.bytes += chunk.data.byteLength;
            result.busyMs += performance.now() - t0;
            taken();
          },
        });
        poke();
      });
    },
    stats: () => ({ ...result }),
    async close() {
      finished = true;
      poke();
      return { ...result };
    },
    async abort(reason) {
      failure = reason ?? new Error('iterator sink aborted');
      finished = true;
      for (const w of waiting.splice(0)) w.taken();
      poke();
    },
    [Symbol.asyncIterator]() {
      if (iterating) throw new Error('an iterator sink can be iterated only once');
      iterating = true;
      const release = () => {
        const c = current;
        current = null;
        c?.();
      };
      return {
        async next(): Promise<IteratorResult<OutputChunk<I>>> {
          release(); // the previous chunk's slot goes back to the GPU only now
          for (;;) {
            if (failure) throw failure;
            const w = waiting.shift();
            if (w) {
              current = w.taken;
              return { value: w.chunk, done: false };
            }
            if (finished) return { value: undefined, done: true };
            await new Promise<void>((r) => (wake = r));
          }
        },
        async return(): Promise<IteratorResult<OutputChunk<I>>> {
          // The consumer stopped early (break): let the pipeline go on without it.
          release();
          finished = true;
          for (const w of waiting.splice(0)) w.taken();
          return { value: undefined, done: true };
        },
      };
    },
  };
  return sink;
}
