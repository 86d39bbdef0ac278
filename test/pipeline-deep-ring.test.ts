// Deep rings and the 'auto' start: the ring sizes 'auto' starts from, the jitter allowance in
// chooseDepth, the Watermark the host-side barrier 1 waits on, and runs at depths 8 and 16
// (barrier 1 kept by host order from depth 3 on) under the hazard checker with uploads, slow
// sinks and random copy times: every chunk in order, exactly once, intact, no hazard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checked } from '../src/check/index.js';
import { AUTO_START_BYTES, autoStartDepth, chooseDepth } from '../src/pipeline/auto-depth.js';
import { Watermark } from '../src/pipeline/async-tools.js';
import { createPipeline } from '../src/pipeline/index.js';
import { FakeDevice } from '../src/testing/index.js';
import { mulberry32 as prng } from '../src/util/prng.js';

const MiB = 1024 ** 2;

test("autoStartDepth: what AUTO_START_BYTES holds, 2..16, no more than the chunks counted or half the free memory", () => {
  const free = 80 * 1024 ** 3;
  assert.equal(autoStartDepth(64 * MiB, free, null), AUTO_START_BYTES / (64 * MiB));
  assert.equal(autoStartDepth(1 * MiB, free, null), 16);
  assert.equal(autoStartDepth(1 * MiB, free, 5), 5);
  assert.equal(autoStartDepth(1 * MiB, free, 0), 2);
  assert.equal(autoStartDepth(1024 * MiB, free, null), 2);
  assert.equal(autoStartDepth(1 * MiB, 6 * MiB, null), 3);
});

test('chooseDepth: a jitter allowance asks for more slots when stages are short, hardly any when long', () => {
  const s = (compute: number, copy: number) => [{ upload: 0, compute, copy, sink: 0, wake: 0.005 }];
  const short = s(0.02, 0.02);
  const long = s(2, 1);
  assert.ok(chooseDepth(short, MiB, 1e12, 0.5).depth > chooseDepth(short, MiB, 1e12).depth);
  assert.equal(chooseDepth(short, MiB, 1e12, 0.5).depth, 16); // capped
  assert.equal(chooseDepth(long, MiB, 1e12, 0.5).depth, chooseDepth(long, MiB, 1e12).depth);
  assert.match(chooseDepth(short, MiB, 1e12, 0.5).reason, /\+ 0\.50 ms for host jitter/);
  assert.equal(chooseDepth(long, MiB, 1e12).bottleneckMs, 2);
});

test('Watermark: until(v) resolves once advance reaches v, in any order, never before', async () => {
  const w = new Watermark();
  const got: number[] = [];
  const waits = [3, 1, 2, 5].map((v) => w.until(v).then(() => got.push(v)));
  w.advance(1);
  await Promise.resolve();
  assert.deepEqual(got, [1]);
  w.advance(0); // never goes back
  w.advance(3);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got.sort(), [1, 2, 3]);
  w.advance(5);
  await Promise.all(waits);
  assert.deepEqual(got.sort(), [1, 2, 3, 5]);
  await w.until(4); // already reached
});

const OUT = 512;
const IN = 64;

for (const depth of [8, 16]) {
  for (const uploads of [false, true]) {
    test(`depth ${depth}, uploads ${uploads ? 'on' : 'off'}: in order, exactly once, intact, no hazard, all released`, { timeout: 60_000 }, async () => {
      const rnd = prng(depth * 7 + (uploads ? 1 : 0));
      const fake = new FakeDevice({ copyCostMs: () => 0.01 + rnd() * 0.2 });
      fake.defineKernel('k', ['pointer', 'pointer', 'u32', 'u32'], (_c, out, inp, n, hasIn) => {
        const o = out as Uint8Array;
        const i = inp as Uint8Array;
        for (let k = 0; k < o.length; k++) o[k] = ((hasIn ? i[k % IN]! : 3) + (n as number) * 5 + k) & 255;
      }, () => 0.01 + rnd() * 0.2);
      const dev = checked(fake);
      const base = fake.liveResources();
      const kernel = dev.compile('', { kernels: { k: ['pointer', 'pointer', 'u32', 'u32'] } }).getKernel('k');
      const seen: number[] = [];
      const bad: number[] = [];
      const chunks = 300;
      const pipe = createPipeline<number>(dev, {
        outputBytes: OUT,
        inputBytes: uploads ? IN : undefined,
        depth,
        sinkConcurrency: 3,
        compute: (c) =>
          kernel.launch(c.stream, { grid: 1, block: 32, reads: c.input ? [c.input] : [], writes: [c.output] }, c.output, c.input ?? c.output, c.index, uploads ? 1 : 0),
        sink: async (c) => {
          seen.push(c.index);
          for (let k = 0; k < OUT; k++) {
            if (c.data[k] !== (((uploads ? c.index & 255 : 3) + c.index * 5 + k) & 255)) {
              bad.push(c.index);
              break;
            }
          }
          if (rnd() < 0.2) await new Promise((r) => setTimeout(r, rnd() * 2));
        },
      });
      const inputs = uploads ? Array.from({ length: chunks }, (_, n) => ((staging: Uint8Array) => void staging.fill(n & 255)) as unknown as number) : chunks;
      const stats = await pipe.run(inputs as never);
      pipe.close();
      assert.equal(stats.chunks, chunks);
      assert.equal(stats.depth, depth);
      assert.deepEqual(dev.hazards.map((h) => h.message), []);
      assert.deepEqual(bad, []);
      assert.deepEqual(seen, Array.from({ length: chunks }, (_, k) => k));
      assert.deepEqual(fake.liveResources(), base);
    });
  }
}
