// In-order, exactly-once, bit-exact delivery under random stage delays on the fake device:
// depths 1..6, overlap and serial, with and without uploads, and rings with fewer device slots
// than pinned slots. 10,000 chunks for overlap depth 2
// and serial, 2,000 for every other case: the suite must stay fast on 2 busy cores, and every
// slot-reuse path is exercised within the first few dozen chunks of each case anyway.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPipeline, type PipelineMode } from '../src/pipeline/index.js';
import { assertNoLeaks, inputBytesOf, prng, randomDelay, rig, watchUnhandled } from './pipeline-helpers.js';

const checkUnhandled = watchUnhandled();
const CHUNKS_LONG = 10_000;
const CHUNKS = 2_000;
const OUT = 64;
const IN = 32;

async function deliveryCase(
  depth: number,
  mode: PipelineMode,
  uploads: boolean,
  sinkConcurrency: number,
  chunks: number,
  deviceSlots?: number,
): Promise<void> {
  const seed =
    depth * 100 +
    (mode === 'serial' ? 10 : 0) +
    (uploads ? 1 : 0) +
    sinkConcurrency * 1000 +
    (deviceSlots ?? 0) * 10_000;
  const { fake, compute, reference } = rig(seed, OUT);
  const rand = prng(seed + 1);
  const next: number[] = [];
  let expected = 0;
  let started = 0;
  async function* inputs() {
    for (let n = 0; n < chunks; n++) {
      await randomDelay(rand);
      yield inputBytesOf(n, IN);
    }
  }
  const pipe = createPipeline<Uint8Array>(fake, {
    outputBytes: OUT,
    inputBytes: uploads ? IN : undefined,
    depth,
    deviceSlots,
    mode,
    sinkConcurrency,
    async compute(c) {
      if (mode === 'overlap') assert.equal(c.slot, c.index % (deviceSlots ?? depth), 'device slot n mod deviceSlots');
      if (rand() < 0.1) await randomDelay(rand);
      compute(c);
    },
    async sink(c) {
      assert.equal(c.index, started++, 'sinks start in chunk order');
      if (mode === 'overlap') assert.equal(c.slot, c.index % depth, 'host slot n mod depth');
      const want = reference(c.index, uploads ? c.item : undefined);
      assert.deepEqual(c.data, want, `chunk ${c.index}: bytes as the kernel wrote them`);
      await randomDelay(rand);
      // Still intact after the host stage awaited: no D2H overwrote the slot meanwhile (barrier 3).
      assert.deepEqual(c.data, want, `chunk ${c.index}: slot overwritten while the sink held it`);
      next.push(c.index);
      expected++;
    },
  });
  const stats = await pipe.run(inputs());
  assert.equal(stats.chunks, chunks);
  assert.equal(expected, chunks);
  if (sinkConcurrency === 1)
    assert.deepEqual(
      next,
      Array.from({ length: chunks }, (_, k) => k),
    );
  else
    assert.deepEqual(
      [...next].sort((a, b) => a - b),
      Array.from({ length: chunks }, (_, k) => k),
      'exactly once',
    );
  assert.equal(stats.depth, mode === 'serial' ? 1 : depth);
  assert.equal(stats.deviceSlots, mode === 'serial' ? 1 : (deviceSlots ?? depth));
  assert.equal(stats.bytesOut, chunks * OUT);
  assert.equal(stats.bytesIn, uploads ? chunks * IN : 0);
  assertNoLeaks(fake, `depth ${depth} ${mode} uploads=${uploads}`);
}

for (const uploads of [false, true]) {
  for (let depth = 1; depth <= 6; depth++) {
    const n = depth === 2 && !uploads ? CHUNKS_LONG : CHUNKS;
    test(`overlap depth ${depth}${uploads ? ' with uploads' : ''}: ${n} chunks in order, exactly once, bit-exact`, () =>
      deliveryCase(depth, 'overlap', uploads, 1, n));
  }
  const n = uploads ? CHUNKS : CHUNKS_LONG;
  test(`serial${uploads ? ' with uploads' : ''}: ${n} chunks in order, exactly once, bit-exact`, () =>
    deliveryCase(1, 'serial', uploads, 1, n));
  test(`overlap depth 4, sinkConcurrency 3${uploads ? ' with uploads' : ''}: started in order, each exactly once`, () =>
    deliveryCase(4, 'overlap', uploads, 3, 2000));
  // Fewer device slots than pinned ones: compute(n) reuses out[n mod deviceSlots] while the
  // pinned slots turn around on their own schedule.
  for (const [depth, deviceSlots] of [
    [2, 1],
    [5, 2],
    [8, 3],
  ] as const) {
    test(`overlap depth ${depth}, ${deviceSlots} device slots${uploads ? ' with uploads' : ''}: in order, exactly once, bit-exact`, () =>
      deliveryCase(depth, 'overlap', uploads, 2, 2000, deviceSlots));
  }
}

test('pull style: chunks() yields in order, bit-exact, and frees everything', async () => {
  const { fake, compute, reference } = rig(7, OUT);
  const pipe = createPipeline(fake, { outputBytes: OUT, depth: 3, compute });
  const held: { release(): void }[] = [];
  let n = 0;
  for await (const c of pipe.chunks(500)) {
    assert.equal(c.index, n++);
    assert.deepEqual(c.data, reference(c.index));
    held.push(c);
    // Hold up to two chunks at once, releasing the oldest: the ring must still move.
    if (held.length > 2) held.shift()!.release();
  }
  assert.equal(n, 500);
  assert.equal(pipe.lastStats?.chunks, 500);
  assertNoLeaks(fake);
});

test('no unhandled rejections', () => checkUnhandled());
