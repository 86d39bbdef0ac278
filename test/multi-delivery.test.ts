// Several fake devices, one ordered output: every chunk reaches the sink exactly once, in global
// order, bit-exact against the CPU reference, over thousands of chunks with random host delays
// and random GPU costs; a device 3× slower than the others gets fewer chunks (dealing works).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMultiPipeline, type MultiComputeChunk, type MultiPipelineOptions } from '../src/pipeline/multi.js';
import { syntheticReference } from '../src/workloads/synthetic.js';
import {
  assertNoLeaks,
  inputBytesOf,
  prng,
  randomDelay,
  rig,
  tick,
  watchUnhandled,
  type Rig,
} from './pipeline-helpers.js';

const checkUnhandled = watchUnhandled();
const OUT = 64;
const IN = 16;

/** `n` fake devices; device 0 spends `slow`× the host ticks of the others in compute(). */
function cluster(n: number, seed: number, slow = 3) {
  const rigs: Rig[] = Array.from({ length: n }, (_, d) =>
    rig(seed * 10 + d, OUT, 1, { ordinal: d, name: `fake ${d}` }),
  );
  const rand = prng(seed);
  const compute = async (c: MultiComputeChunk<unknown>) => {
    const ticks = c.deviceIndex === 0 ? slow : 1;
    for (let k = 0; k < ticks; k++) await tick();
    await randomDelay(rand);
    rigs[c.deviceIndex]!.compute(c);
  };
  return { rigs, devices: rigs.map((r) => r.fake), compute, rand };
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

for (const n of [2, 3, 4]) {
  test(`${n} devices, one 3× slower: 3000 chunks in order, exactly once, bit-exact; the slow one gets fewer`, async () => {
    const { rigs, devices, compute, rand } = cluster(n, n);
    const order: number[] = [];
    const byDevice = new Array<number>(n).fill(0);
    let wrong = 0;
    const pipe = createMultiPipeline(devices, {
      outputBytes: OUT,
      depth: 2 + (n % 2),
      compute,
      sink: async (c) => {
        order.push(c.index);
        byDevice[c.deviceIndex]!++;
        assert.equal(c.device, devices[c.deviceIndex]);
        if (!same(c.data, syntheticReference(OUT, c.index, 1))) wrong++;
        await randomDelay(rand);
      },
    });
    const N = 3000;
    const stats = await pipe.run(N);
    assert.equal(wrong, 0, 'chunks with wrong bytes');
    assert.equal(order.length, N);
    assert.ok(
      order.every((v, k) => v === k),
      'global order',
    );
    assert.equal(stats.chunks, N);
    assert.equal(stats.bytesOut, N * OUT);
    assert.deepEqual(
      stats.perDevice.map((d) => d.chunks),
      byDevice,
    );
    assert.ok(
      byDevice.every((c) => c > 0),
      `every device got chunks: ${byDevice}`,
    );
    const fastest = Math.min(...byDevice.slice(1));
    assert.ok(byDevice[0]! < fastest, `the slow device got fewer chunks: ${byDevice}`);
    assert.equal(stats.perDevice.reduce((a, d) => a + d.share, 0).toFixed(6), '1.000000');
    for (const r of rigs) assertNoLeaks(r.fake);
    assert.equal(pipe.lastStats, stats);
  });
}

test('uploads: bytes and fill-in-place items reach the device they are dealt to; the fill gets the global index', async () => {
  const { rigs, devices, compute } = cluster(3, 7);
  const fills: number[] = [];
  const N = 600;
  const items = Array.from({ length: N }, (_, g) =>
    g % 2
      ? inputBytesOf(g, IN)
      : (staging: Uint8Array, index: number) => (fills.push(index), staging.set(inputBytesOf(index, IN))),
  );
  let wrong = 0;
  const order: number[] = [];
  const pipe = createMultiPipeline<(typeof items)[number]>(devices, {
    outputBytes: OUT,
    inputBytes: IN,
    depth: 3,
    compute: async (c) => {
      assert.equal(c.item, items[c.index], 'compute sees the item of its global index');
      await compute(c);
    },
    sink: (c) => {
      order.push(c.index);
      assert.equal(c.item, items[c.index]);
      if (!same(c.data, syntheticReference(OUT, c.index, 1, inputBytesOf(c.index, IN)))) wrong++;
    },
  });
  const stats = await pipe.run(items);
  assert.equal(wrong, 0);
  assert.ok(order.every((v, k) => v === k) && order.length === N);
  // Each fill-in-place item ran once, with its global index, whichever device it landed on.
  assert.deepEqual(
    [...fills].sort((a, b) => a - b),
    Array.from({ length: N / 2 }, (_, k) => 2 * k),
  );
  assert.equal(stats.bytesIn, N * IN);
  for (const r of rigs) assertNoLeaks(r.fake);
});

test('an async input with random delays, sinkConcurrency 3: sinks start in order, each chunk once', async () => {
  const { rigs, devices, compute, rand } = cluster(3, 11, 2);
  const N = 1500;
  async function* inputs() {
    for (let g = 0; g < N; g++) {
      await randomDelay(rand);
      yield `item ${g}`;
    }
  }
  const started: number[] = [];
  let inSink = 0;
  let most = 0;
  let wrong = 0;
  const pipe = createMultiPipeline<string>(devices, {
    outputBytes: OUT,
    depth: 'auto',
    sinkConcurrency: 3,
    compute,
    sink: async (c) => {
      started.push(c.index);
      assert.equal(c.item, `item ${c.index}`);
      most = Math.max(most, ++inSink);
      const copy = c.data.slice();
      for (let k = 0, t = (rand() * 4) | 0; k < t; k++) await tick();
      // The slot is the sink's until it settles: no later chunk overwrote it meanwhile.
      if (!same(c.data, copy) || !same(copy, syntheticReference(OUT, c.index, 1))) wrong++;
      inSink--;
    },
  });
  const stats = await pipe.run(inputs());
  assert.equal(wrong, 0);
  assert.ok(started.every((v, k) => v === k) && started.length === N);
  assert.ok(most <= 3, `at most 3 in the sink, saw ${most}`);
  assert.equal(stats.sink.concurrency, 3);
  assert.equal(stats.lookahead, 'ring');
  for (const r of rigs) assertNoLeaks(r.fake);
});

test('fewer device slots than pinned slots on every device: in order, bit-exact, every device reports its ring', async () => {
  const { rigs, devices, compute } = cluster(3, 23, 2);
  const seen: number[] = [];
  const stats = await createMultiPipeline(devices, {
    outputBytes: OUT,
    depth: 5,
    deviceSlots: 2,
    compute,
    sink: (c) => {
      assert.ok(same(c.data, syntheticReference(OUT, c.index, 1)), `chunk ${c.index}`);
      seen.push(c.index);
    },
  }).run(600);
  assert.deepEqual(
    seen,
    Array.from({ length: 600 }, (_, k) => k),
  );
  for (const d of stats.perDevice) assert.deepEqual([d.stats.depth, d.stats.deviceSlots], [5, 2]);
  for (const r of rigs) assertNoLeaks(r.fake);
});

test('the same device twice (two pipelines on one GPU): both get chunks, output in order and bit-exact', async () => {
  const r = rig(5, OUT);
  const order: number[] = [];
  let wrong = 0;
  const pipe = createMultiPipeline([r.fake, r.fake], {
    outputBytes: OUT,
    depth: 2,
    compute: async (c) => {
      await tick();
      r.compute(c);
    },
    sink: (c) => {
      order.push(c.index);
      if (!same(c.data, r.reference(c.index))) wrong++;
    },
  });
  const stats = await pipe.run(800);
  assert.equal(wrong, 0);
  assert.ok(order.every((v, k) => v === k) && order.length === 800);
  assert.ok(
    stats.perDevice.every((d) => d.chunks > 0),
    `${stats.perDevice.map((d) => d.chunks)}`,
  );
  assertNoLeaks(r.fake);
});

test('trace: per-device GPU busy times, timelines indexed by global chunk, and a bottleneck verdict', async () => {
  const { rigs, devices, compute } = cluster(2, 13, 1);
  const pipe = createMultiPipeline(devices, { outputBytes: OUT, depth: 2, trace: true, compute });
  const stats = await pipe.run(200);
  const seen = stats.perDevice.flatMap((d) => d.stats.timeline!.map((t) => t.index)).sort((a, b) => a - b);
  assert.deepEqual(
    seen,
    Array.from({ length: 200 }, (_, k) => k),
  );
  for (const d of stats.perDevice) {
    assert.ok(d.gpuBusyFraction !== null && d.gpuBusyFraction >= 0);
    assert.ok(
      d.efficiency !== null && d.efficiency >= d.gpuBusyFraction - 1e-9,
      'a device is busier within its own wall time than within the run',
    );
    assert.ok(d.wallMs > 0 && d.wallMs <= stats.wallMs + 1);
    assert.ok(d.busiestStage === 'compute' || d.busiestStage === 'copy');
  }
  assert.equal(typeof stats.bottleneck.reason, 'string');
  for (const r of rigs) assertNoLeaks(r.fake);
});

test('no sink: chunks are still released in order and counted', async () => {
  const { rigs, devices, compute } = cluster(2, 17);
  const options: MultiPipelineOptions<number> = { outputBytes: OUT, depth: 1, compute };
  const stats = await createMultiPipeline(devices, options).run(300);
  assert.equal(stats.chunks, 300);
  for (const r of rigs) assertNoLeaks(r.fake);
});

test('no unhandled rejections', async () => {
  await new Promise((r) => setTimeout(r, 50));
  checkUnhandled();
});
