// Sinks for users' code through the real pipeline on the fake device: a callback, an async
// iterator (pull style, slot held until the consumer moves on) and a Node Readable for piping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { FakeDevice } from '../src/testing/index.js';
import { createPipeline } from '../src/pipeline/index.js';
import { callbackSink, iteratorSink } from '../src/sinks/callback.js';
import { readableSink } from '../src/sinks/readable.js';
import { createFrameWorkload } from '../src/workloads/registry.js';
import { frameRanges, type FrameRange } from '../src/formats/frame-format.js';
import type { Sink } from '../src/sinks/types.js';

const FORMAT = { width: 16, height: 8, pixelFormat: 'rgba' as const, framesPerChunk: 2 };
const TOTAL = 7;

async function run(sink: Sink<FrameRange>, during?: Promise<void>): Promise<Uint8Array> {
  const device = new FakeDevice();
  const w = createFrameWorkload('fractal', { ...FORMAT, cost: 0.25 });
  try {
    const inst = w.setup(device);
    const p = createPipeline<FrameRange>(device, {
      outputBytes: w.outputBytes,
      depth: 2,
      compute: (c) => inst.compute(c),
      sink: sink.write,
      sinkConcurrency: sink.concurrency,
    });
    await p.run(frameRanges(TOTAL, FORMAT.framesPerChunk));
    await sink.close();
    await during;
    return inst.referenceFrames!(0, TOTAL);
  } finally {
    w.close();
    await device[Symbol.asyncDispose]();
  }
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('callback sink gets every frame in order as views of the chunk', async () => {
  const got: Buffer[] = [];
  const firsts: number[] = [];
  const sink = callbackSink(
    ({ firstFrame, frames }) => {
      firsts.push(firstFrame);
      for (const f of frames) got.push(Buffer.from(f)); // copy: the view dies with the chunk
    },
    { format: FORMAT },
  );
  const want = await run(sink);
  assert.deepEqual(firsts, [0, 2, 4, 6]);
  assert.equal(sha(Buffer.concat(got)), sha(want));
  assert.equal(sink.stats().frames, TOTAL);
});

test('iterator sink: for await over the chunks while the pipeline runs; a slow consumer holds the pipeline back', async () => {
  const sink = iteratorSink<FrameRange>();
  const got: Buffer[] = [];
  const consumer = (async () => {
    for await (const chunk of sink) {
      await new Promise((r) => setTimeout(r, 5));
      got.push(Buffer.from(chunk.data.subarray(0, chunk.item.frames * 16 * 8 * 4)));
    }
  })();
  const want = await run(sink, consumer);
  assert.equal(got.length, 4);
  assert.equal(sha(Buffer.concat(got)), sha(want));
});

test('iterator sink: abort makes the consumer loop throw', async () => {
  const sink = iteratorSink();
  const loop = (async () => {
    for await (const _ of sink) {
      /* nothing arrives */
    }
  })();
  await sink.abort(new Error('run failed'));
  await assert.rejects(loop, /run failed/);
});

test('readable sink: pipe the frames into a slow Writable, backpressure and all', async () => {
  const sink = readableSink({ format: FORMAT, highWaterMark: 1024 });
  const parts: Buffer[] = [];
  const slow = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      setTimeout(cb, 2);
    },
  });
  const piped = streamPipeline(sink.readable, slow);
  const want = await run(sink, piped);
  assert.equal(sha(Buffer.concat(parts)), sha(want));
  assert.equal(sink.stats().bytes, want.byteLength);
});
