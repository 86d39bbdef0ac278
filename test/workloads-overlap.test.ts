// Frame workloads through the real pipeline on the fake device: the frames that reach the sink
// are bit-identical between serial and overlap modes (per-frame SHA-256) and equal the host
// reference, with several chunks in the host stage at once and a partial last chunk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { FakeDevice } from '../src/testing/index.js';
import { createPipeline } from '../src/pipeline/index.js';
import { createFrameWorkload } from '../src/workloads/registry.js';
import { frameBytes, frameRanges, type FrameRange, type PixelFormat } from '../src/formats/frame-format.js';
import { callbackSink } from '../src/sinks/callback.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function frameChecksums(
  name: string,
  pixelFormat: PixelFormat,
  mode: 'serial' | 'overlap',
  totalFrames: number,
): Promise<{ sums: string[]; ref: string[] }> {
  const device = new FakeDevice();
  const w = createFrameWorkload(name, { width: 32, height: 16, pixelFormat, framesPerChunk: 3, cost: 0.25 });
  try {
    const inst = w.setup(device);
    const sums: string[] = [];
    const sink = callbackSink(
      async ({ firstFrame, frames }) => {
        // Let later chunks overtake in the host stage: order must not matter for the bytes.
        await new Promise((r) => setTimeout(r, (firstFrame * 7) % 5));
        frames.forEach((f, k) => (sums[firstFrame + k] = sha(f)));
      },
      { format: w.format, concurrency: 3 },
    );
    const pipeline = createPipeline<FrameRange>(device, {
      outputBytes: w.outputBytes,
      mode,
      depth: 3,
      compute: (c) => inst.compute(c),
      sink: sink.write,
      sinkConcurrency: sink.concurrency,
    });
    const stats = await pipeline.run(frameRanges(totalFrames, 3));
    assert.equal(stats.chunks, Math.ceil(totalFrames / 3));
    const all = inst.referenceFrames!(0, totalFrames);
    const fb = frameBytes(w.format);
    const ref = Array.from({ length: totalFrames }, (_, f) => sha(all.subarray(f * fb, (f + 1) * fb)));
    return { sums, ref };
  } finally {
    w.close();
    await device[Symbol.asyncDispose]();
  }
}

for (const name of ['fractal', 'decoder'] as const) {
  test(`${name}: serial and overlap frames are bit-identical and match the host reference`, async () => {
    for (const pixelFormat of ['yuv420p', 'rgba'] as const) {
      const serial = await frameChecksums(name, pixelFormat, 'serial', 8);
      const overlap = await frameChecksums(name, pixelFormat, 'overlap', 8);
      assert.equal(overlap.sums.length, 8);
      assert.deepEqual(overlap.sums, serial.sums, `${pixelFormat}: serial vs overlap`);
      assert.deepEqual(overlap.sums, overlap.ref, `${pixelFormat}: overlap vs reference`);
      assert.equal(new Set(overlap.sums).size, 8, 'every frame differs from the others');
    }
  });
}

test('synthetic as frames: serial and overlap agree', async () => {
  const serial = await frameChecksums('synthetic', 'rgba', 'serial', 7);
  const overlap = await frameChecksums('synthetic', 'rgba', 'overlap', 7);
  assert.deepEqual(overlap.sums, serial.sums);
  assert.deepEqual(overlap.sums, overlap.ref);
  assert.equal(overlap.sums.length, 7);
});
