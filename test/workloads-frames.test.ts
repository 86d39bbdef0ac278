// Frame workloads on the fake device: the JS twins run through the same workload code the GPU
// path uses (compile, launch on a stream, copy to pinned), and must give the reference bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { FakeDevice } from '../src/testing/index.js';
import { fractal, renderFractalFrame, fractalFrameParams } from '../src/workloads/fractal.js';
import { decoder, renderDecoderFrames, decoderPlan } from '../src/workloads/decoder.js';
import {
  frameBytes,
  frameRanges,
  parseFrameSize,
  validateFrameFormat,
  type FrameRange,
} from '../src/formats/frame-format.js';
import { bt709U, bt709V, bt709Y, i420ToRgb, storeBlock } from '../src/formats/color.js';
import { createFrameWorkload } from '../src/workloads/registry.js';
import type { FrameWorkload, FrameWorkloadInstance } from '../src/workloads/types.js';
import type { ComputeChunk } from '../src/pipeline/types.js';
import type { Device } from '../src/pipeline/device.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Runs one chunk of a workload by hand: compute on a stream, copy to pinned, read back. */
async function runChunk(
  device: Device,
  w: FrameWorkload,
  inst: FrameWorkloadInstance,
  range: FrameRange,
  index = 0,
): Promise<Uint8Array> {
  const out = device.allocDevice(w.outputBytes, 'out');
  const pinned = device.allocPinned(w.outputBytes, 'pinned');
  const stream = device.createStream({ label: 'compute' });
  try {
    const chunk: ComputeChunk<FrameRange> = { index, slot: 0, stream, output: out, input: null, item: range };
    inst.compute(chunk);
    device.copy(stream, pinned, out);
    await stream.synchronize();
    return pinned.bytes.slice(0, range.frames * frameBytes(w.format));
  } finally {
    stream.close();
    pinned.close();
    out.close();
  }
}

test('fractal on the fake device matches the host reference, RGBA and I420, with a partial chunk', async () => {
  for (const pixelFormat of ['rgba', 'yuv420p'] as const) {
    const device = new FakeDevice();
    const w = fractal.create({ width: 48, height: 26, pixelFormat, framesPerChunk: 3, cost: 0.5 });
    try {
      assert.equal(w.outputBytes, 3 * frameBytes(w.format));
      const inst = w.setup(device);
      const got = await runChunk(device, w, inst, { firstFrame: 90, frames: 2 }, 30);
      assert.deepEqual(got, inst.referenceFrames!(90, 2));
      const want = new Uint8Array(2 * frameBytes(w.format));
      want.set(renderFractalFrame(w.format, 90, 0.5), 0);
      want.set(renderFractalFrame(w.format, 91, 0.5), frameBytes(w.format));
      assert.equal(sha(got), sha(want), `${pixelFormat}: fake-device bytes differ from the reference`);
      assert.notEqual(
        sha(got.subarray(0, frameBytes(w.format))),
        sha(got.subarray(frameBytes(w.format))),
        'consecutive frames should differ (the zoom moves)',
      );
    } finally {
      w.close();
      w.close(); // idempotent
      device.close();
    }
  }
});

test('fractal frames are not flat and the zoom deepens, then turns back', () => {
  const f = renderFractalFrame({ width: 64, height: 36, pixelFormat: 'rgba' }, 120);
  const colours = new Set<number>();
  for (let i = 0; i < f.length; i += 4) colours.add((f[i]! << 16) | (f[i + 1]! << 8) | f[i + 2]!);
  assert.ok(colours.size > 50, `only ${colours.size} colours`);
  const a = fractalFrameParams(0, 64),
    b = fractalFrameParams(300, 64),
    c = fractalFrameParams(30 * 80, 64);
  assert.ok(b.step < a.step / 500, 'ten doublings in 300 frames');
  assert.ok(b.maxIterations > a.maxIterations);
  assert.equal(c.step, a.step, 'after 2 x 40 doublings the zoom is back at the start');
});

test('decoder on the fake device matches the host reference and moves between frames', async () => {
  const device = new FakeDevice();
  const w = decoder.create({ width: 32, height: 16, pixelFormat: 'yuv420p', framesPerChunk: 2, cost: 0.25, seed: 7 });
  try {
    const inst = w.setup(device);
    const got = await runChunk(device, w, inst, { firstFrame: 5, frames: 2 }, 2);
    // A second chunk on the same instance: the weights went up once and stay.
    const again = await runChunk(device, w, inst, { firstFrame: 7, frames: 1 }, 3);
    assert.deepEqual(again, renderDecoderFrames(w.format, 7, 1, 0.25, 7));
    const want = renderDecoderFrames(w.format, 5, 2, 0.25, 7);
    assert.equal(sha(got), sha(want));
    const fb = frameBytes(w.format);
    assert.notEqual(sha(got.subarray(0, fb)), sha(got.subarray(fb)));
    const ys = new Set(got.subarray(0, 32 * 16));
    assert.ok(ys.size > 5, `luma has only ${ys.size} distinct values`);
  } finally {
    w.close();
    device.close();
  }
});

test('decoder weights are deterministic per seed and scale with cost', () => {
  const a = decoderPlan(64, 32, 1, 3),
    b = decoderPlan(64, 32, 1, 3),
    c = decoderPlan(64, 32, 1, 4);
  assert.equal(sha(new Uint8Array(a.weights.buffer)), sha(new Uint8Array(b.weights.buffer)));
  assert.notEqual(sha(new Uint8Array(a.weights.buffer)), sha(new Uint8Array(c.weights.buffer)));
  assert.ok(decoderPlan(64, 32, 2).macsPerFrame > 3 * a.macsPerFrame);
});

test('workload options are validated with messages that say what to change', () => {
  assert.throws(
    () => decoder.create({ width: 30, height: 16, pixelFormat: 'rgba', framesPerChunk: 1 }),
    /multiples of 8.*try 32x16/,
  );
  assert.throws(
    () => fractal.create({ width: 31, height: 16, pixelFormat: 'yuv420p', framesPerChunk: 1 }),
    /even width and height.*--format rgba/,
  );
  assert.throws(
    () => fractal.create({ width: 32, height: 16, pixelFormat: 'rgba', framesPerChunk: 0 }),
    /frames per chunk/,
  );
  assert.throws(
    () => fractal.create({ width: 32, height: 16, pixelFormat: 'rgba', framesPerChunk: 1, cost: -1 }),
    /--cost must be a positive/,
  );
  assert.throws(
    () => createFrameWorkload('mandelbulb', { width: 32, height: 16, pixelFormat: 'rgba', framesPerChunk: 1 }),
    /unknown workload 'mandelbulb': choose one of fractal, decoder, synthetic/,
  );
  assert.throws(() => parseFrameSize('1920by1080'), /write it like 1920x1080/);
  assert.deepEqual(parseFrameSize('3840x2160'), { width: 3840, height: 2160 });
  assert.throws(
    () => validateFrameFormat({ width: 9000, height: 100, pixelFormat: 'rgba', framesPerChunk: 1 }),
    /larger than/,
  );
  assert.deepEqual(
    [...frameRanges(10, 4)],
    [
      { firstFrame: 0, frames: 4 },
      { firstFrame: 4, frames: 4 },
      { firstFrame: 8, frames: 2 },
    ],
  );
});

test('BT.709 limited-range conversion: black, white and primaries land on the standard codes', () => {
  assert.deepEqual([bt709Y(0, 0, 0), bt709U(0, 0, 0), bt709V(0, 0, 0)], [16, 128, 128]);
  assert.deepEqual([bt709Y(255, 255, 255), bt709U(255, 255, 255), bt709V(255, 255, 255)], [235, 128, 128]);
  assert.deepEqual([bt709Y(255, 0, 0), bt709U(255, 0, 0), bt709V(255, 0, 0)], [63, 102, 240]);
  assert.deepEqual([bt709Y(0, 0, 255), bt709U(0, 0, 255), bt709V(0, 0, 255)], [32, 240, 118]);
  // Round trip through I420 stays close for a flat colour.
  const frame = new Uint8Array((4 * 2 * 3) / 2);
  const r = [200, 200, 200, 200],
    g = [120, 120, 120, 120],
    b = [40, 40, 40, 40];
  storeBlock(frame, 2, 2, 1, 0, 0, r, g, b);
  const rgb = i420ToRgb(frame, 2, 2);
  for (let i = 0; i < 4; i++) {
    assert.ok(
      Math.abs(rgb[i * 3]! - 200) <= 2 && Math.abs(rgb[i * 3 + 1]! - 120) <= 2 && Math.abs(rgb[i * 3 + 2]! - 40) <= 2,
      `${[...rgb.subarray(i * 3, i * 3 + 3)]}`,
    );
  }
});
