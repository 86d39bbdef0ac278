// Frame workloads on a real GPU: frames bit-identical between serial and overlap (per-frame
// SHA-256), equal to the JS twins at small sizes (FMA contraction is off in both kernels, so the
// GPU's doubles and floats round like JS's), sane (not constant) at 1080p and 4K, and the raw and
// PNG sinks writing what the GPU made. Skips, with the reason, without a driver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { driverAvailable } from '../../src/core/open.js';
import { open } from '../../src/pipeline/device.js';
import type { Device } from '../../src/pipeline/device.js';
import { createPipeline } from '../../src/pipeline/index.js';
import { callbackSink } from '../../src/sinks/callback.js';
import { openRawSink } from '../../src/sinks/raw.js';
import { openPngSink } from '../../src/sinks/png.js';
import { decodePng } from '../../src/sinks/png-encode.js';
import { i420ToRgb } from '../../src/formats/color.js';
import { createFrameWorkload } from '../../src/workloads/registry.js';
import { runRender } from '../../src/render/render.js';
import { frameBytes, frameRanges, type FrameRange, type PixelFormat } from '../../src/formats/frame-format.js';

const avail = driverAvailable();
const skip = avail.ok ? false : `no CUDA driver: ${avail.reason}`;
if (skip) console.log(`# skipping GPU workload tests: ${skip}`);

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let device: Device | null = null;
async function gpu(): Promise<Device> {
  device ??= await open(0);
  return device;
}
test.after(async () => {
  if (device) await device[Symbol.asyncDispose]();
});

interface Frames {
  sums: string[];
  /** The first `keep` frames' bytes. */
  kept: Uint8Array[];
  distinct: number;
}

async function render(
  name: string,
  width: number,
  height: number,
  pixelFormat: PixelFormat,
  mode: 'serial' | 'overlap',
  total: number,
  cost: number,
  keep = 0,
): Promise<Frames> {
  const dev = await gpu();
  const w = createFrameWorkload(name, { width, height, pixelFormat, framesPerChunk: 4, cost });
  try {
    const inst = w.setup(dev);
    const sums: string[] = [];
    const kept: Uint8Array[] = [];
    let distinct = 0;
    const sink = callbackSink(
      ({ firstFrame, frames }) => {
        frames.forEach((f, k) => {
          sums[firstFrame + k] = sha(f);
          if (firstFrame + k < keep) kept[firstFrame + k] = f.slice();
          if (firstFrame + k === 0) distinct = new Set(f.subarray(0, width * height)).size;
        });
      },
      { format: w.format, concurrency: 2 },
    );
    const p = createPipeline<FrameRange>(dev, {
      outputBytes: w.outputBytes,
      mode,
      depth: 3,
      compute: (c) => inst.compute(c),
      sink: sink.write,
      sinkConcurrency: 2,
    });
    await p.run(frameRanges(total, 4));
    p.close();
    return { sums, kept, distinct };
  } finally {
    w.close();
  }
}

function mismatch(a: Uint8Array, b: Uint8Array): string {
  let n = 0,
    first = -1;
  for (let i = 0; i < Math.min(a.length, b.length); i++)
    if (a[i] !== b[i]) {
      n++;
      if (first < 0) first = i;
    }
  return `${n} of ${a.length} bytes differ (first at ${first}: GPU ${a[first]} vs JS ${b[first]})`;
}

for (const name of ['fractal', 'decoder'] as const) {
  for (const pixelFormat of ['yuv420p', 'rgba'] as const) {
    test(
      `${name} ${pixelFormat}: GPU frames equal the JS twin's, serial and overlap identical (64x32, 7 frames)`,
      { skip },
      async () => {
        const cost = name === 'decoder' ? 0.5 : 1;
        const serial = await render(name, 64, 32, pixelFormat, 'serial', 7, cost, 7);
        const overlap = await render(name, 64, 32, pixelFormat, 'overlap', 7, cost);
        assert.deepEqual(overlap.sums, serial.sums, 'serial vs overlap');
        const w = createFrameWorkload(name, { width: 64, height: 32, pixelFormat, framesPerChunk: 4, cost });
        const fake = new (await import('../../src/testing/index.js')).FakeDevice();
        try {
          const ref = w.setup(fake).referenceFrames!(0, 7);
          const fb = frameBytes(w.format);
          for (let f = 0; f < 7; f++) {
            const want = ref.subarray(f * fb, (f + 1) * fb);
            assert.ok(sha(want) === serial.sums[f], `frame ${f}: ${mismatch(serial.kept[f]!, want)}`);
          }
        } finally {
          w.close();
          fake.close();
        }
      },
    );
  }
}

for (const [name, width, height, cost] of [
  ['fractal', 1920, 1080, 1],
  ['decoder', 1920, 1080, 1],
  ['fractal', 3840, 2160, 0.5],
] as const) {
  test(
    `${name} ${width}x${height}: serial and overlap frames bit-identical, frames not constant`,
    { skip },
    async () => {
      const serial = await render(name, width, height, 'yuv420p', 'serial', 10, cost);
      const overlap = await render(name, width, height, 'yuv420p', 'overlap', 10, cost);
      assert.equal(overlap.sums.length, 10);
      assert.deepEqual(overlap.sums, serial.sums);
      assert.ok(overlap.distinct > 32, `frame 0 has only ${overlap.distinct} distinct luma values`);
      assert.ok(new Set(overlap.sums).size >= 9, 'frames change over time');
    },
  );
}

test("raw and PNG sinks on the GPU: the PNGs decode to the raw file's frames", { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-gpu-sinks-'));
  try {
    const dev = await gpu();
    const opts = { width: 640, height: 360, pixelFormat: 'yuv420p' as const, framesPerChunk: 4, cost: 1 };
    const w1 = createFrameWorkload('fractal', opts);
    const raw = await openRawSink({ path: join(dir, 'v.yuv'), format: w1.format });
    const a = await runRender({ device: dev, workload: w1, sink: raw, frames: 9 });
    w1.close();
    assert.equal(a.error, null, String(a.error));
    const w2 = createFrameWorkload('fractal', opts);
    const png = await openPngSink({ dir: join(dir, 'png'), format: w2.format });
    const b = await runRender({ device: dev, workload: w2, sink: png, frames: 9 });
    w2.close();
    assert.equal(b.error, null, String(b.error));
    const bytes = await readFile(join(dir, 'v.yuv'));
    const fb = frameBytes(opts);
    assert.equal(bytes.length, 9 * fb);
    const names = (await readdir(join(dir, 'png'))).sort();
    assert.equal(names.length, 9);
    for (const f of [0, 4, 8]) {
      const img = decodePng(await readFile(join(dir, 'png', names[f]!)));
      assert.deepEqual(img.pixels, i420ToRgb(bytes.subarray(f * fb, (f + 1) * fb), 640, 360), `frame ${f}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
