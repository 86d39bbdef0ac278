// keepRing: a Pipeline keeps its ring's buffers and events between runs until close(). The next
// run allocates nothing it already has, every chunk stays intact, the hazard checker sees no
// hazard across runs, and every way a run can end leaves nothing behind once the pipeline closes:
// a sink that times out (its slot is never reused), a lost context (the ring is freed), two runs
// at once (one ring kept), close() during a run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checked } from '../src/check/index.js';
import { createPipeline, PipelineError, type ComputeChunk } from '../src/pipeline/index.js';
import type { FakeDevice } from '../src/testing/index.js';
import { SYNTHETIC_KERNEL, syntheticLauncher } from '../src/workloads/synthetic.js';
import { assertNoLeaks, inputBytesOf, rig, watchUnhandled } from './pipeline-helpers.js';

const checkUnhandled = watchUnhandled();
const OUT = 256;
const IN = 64;

/** Counts the fake's pinned and device allocations. */
function countAllocations(fake: FakeDevice): { pinned: number; device: number } {
  const n = { pinned: 0, device: 0 };
  const pinned = fake.allocPinned.bind(fake);
  const device = fake.allocDevice.bind(fake);
  fake.allocPinned = (...a: Parameters<FakeDevice['allocPinned']>) => (n.pinned++, pinned(...a));
  fake.allocDevice = (...a: Parameters<FakeDevice['allocDevice']>) => (n.device++, device(...a));
  return n;
}

test('keepRing: the second run allocates no buffer, both deliver every chunk intact, close() frees the ring', async () => {
  const { fake, compute, reference } = rig(1, OUT);
  const allocs = countAllocations(fake);
  const pipe = createPipeline(fake, { outputBytes: OUT, depth: 5, deviceSlots: 2, keepRing: true, compute });
  for (let run = 0; run < 3; run++) {
    const got: number[] = [];
    const stats = await pipe.run(60);
    assert.equal(stats.chunks, 60);
    for await (const c of pipe.chunks(30)) {
      assert.deepEqual(c.data, reference(c.index), `run ${run}, pulled chunk ${c.index}`);
      got.push(c.index);
      c.release();
    }
    assert.equal(got.length, 30);
    // Only the ring stays between runs: 5 pinned buffers, 2 device buffers, their events.
    const live = fake.liveResources();
    assert.deepEqual([live.streams, live.pinnedBuffers, live.deviceBuffers, live.events], [0, 5, 2, 7], `run ${run}`);
    assert.deepEqual(pipe.keptBytes, { pinned: 5 * OUT, device: 2 * OUT });
  }
  assert.deepEqual(allocs, { pinned: 5, device: 2 }, 'allocated once, in the first run');
  pipe.close();
  assert.deepEqual(pipe.keptBytes, { pinned: 0, device: 0 });
  assertNoLeaks(fake);
});

test(
  "keepRing with 'auto' and uploads, under the hazard checker: no hazard across runs, bit-exact",
  { timeout: 60_000 },
  async () => {
    const { fake, reference } = rig(2, OUT);
    const dev = checked(fake);
    const launch = syntheticLauncher(dev, dev.compile('synthetic').getKernel(SYNTHETIC_KERNEL), OUT, 32);
    const compute = (c: ComputeChunk<Uint8Array>) => launch(c.stream, c.output, c.input, c.index, 1, IN);
    const allocs = countAllocations(fake);
    const pipe = createPipeline<Uint8Array>(dev, {
      outputBytes: OUT,
      inputBytes: IN,
      keepRing: true,
      sinkConcurrency: 2,
      compute,
      sink: (c) => assert.deepEqual(c.data, reference(c.index, c.item)),
    });
    let first = { pinned: 0, device: 0 };
    for (let run = 0; run < 3; run++) {
      const stats = await pipe.run(Array.from({ length: 40 }, (_, n) => inputBytesOf(n + run * 1000, IN)));
      assert.equal(stats.chunks, 40);
      if (run === 0) first = { ...allocs };
    }
    assert.deepEqual(allocs, first, 'runs 2 and 3 allocated nothing');
    assert.deepEqual(
      dev.hazards.map((h) => h.message),
      [],
    );
    pipe.close();
    assertNoLeaks(fake);
  },
);

test(
  'keepRing: a sink that times out keeps its slot; the ring is freed, not kept, and the next run works',
  { timeout: 20_000 },
  async () => {
    const { fake, compute } = rig(3, OUT);
    let hang: (() => void) | null = null;
    const pipe = createPipeline(fake, {
      outputBytes: OUT,
      depth: 3,
      keepRing: true,
      sinkTimeoutMs: 50,
      compute,
      sink: (c) => (c.index === 4 && !hang ? new Promise<void>((r) => (hang = r)) : undefined),
    });
    await assert.rejects(
      pipe.run(20),
      (e: unknown) => e instanceof PipelineError && e.stage === 'sink' && e.chunk === 4,
    );
    // Only the hung sink's pinned slot is left; it is freed when that sink settles.
    assert.deepEqual(fake.liveResources().pinnedBuffers, 1);
    assert.deepEqual(pipe.keptBytes, { pinned: 0, device: 0 });
    hang!();
    await new Promise((r) => setTimeout(r, 10));
    assertNoLeaks(fake);
    assert.equal((await pipe.run(10)).chunks, 10);
    pipe.close();
    assertNoLeaks(fake);
  },
);

test('keepRing: a lost context (sticky fault) frees the ring instead of keeping it', { timeout: 20_000 }, async () => {
  const { fake, compute } = rig(4, OUT);
  const pipe = createPipeline(fake, {
    outputBytes: OUT,
    depth: 3,
    keepRing: true,
    compute: (c) => {
      if (c.index === 5) fake.injectStickyFault();
      compute(c);
    },
  });
  await assert.rejects(pipe.run(20), /the CUDA context is lost/);
  assert.deepEqual(pipe.keptBytes, { pinned: 0, device: 0 });
  pipe.close();
});

test('keepRing: two runs at once each get a ring; one is kept, the other freed', async () => {
  const { fake, compute } = rig(5, OUT);
  const pipe = createPipeline(fake, { outputBytes: OUT, depth: 4, keepRing: true, compute });
  const [a, b] = await Promise.all([pipe.run(50), pipe.run(50)]);
  assert.equal(a.chunks + b.chunks, 100);
  assert.deepEqual(fake.liveResources().pinnedBuffers, 4);
  pipe.close();
  assertNoLeaks(fake);
});

test('keepRing: close() during a run rejects it and frees its ring as it ends', async () => {
  const { fake, compute } = rig(6, OUT);
  let closeAt = Infinity;
  const pipe = createPipeline(fake, {
    outputBytes: OUT,
    depth: 3,
    keepRing: true,
    compute,
    sink: (c) => void (c.index === closeAt && pipe.close()),
  });
  await pipe.run(5);
  closeAt = 50;
  await assert.rejects(pipe.run(10_000), { name: 'AbortError' });
  assertNoLeaks(fake);
});

test('keepRing must be a boolean', () => {
  const { fake, compute } = rig(7, OUT);
  assert.throws(
    () => createPipeline(fake, { outputBytes: OUT, keepRing: 'yes' as never, compute }),
    /keepRing must be true or false, got yes/,
  );
});

test('no unhandled rejections', () => checkUnhandled());

test('run(n, { trace }) traces one run of an untraced pipeline on its kept ring, and only that run', async () => {
  const { fake, compute, reference } = rig(1, OUT);
  const allocs = countAllocations(fake);
  const pipe = createPipeline(fake, { outputBytes: OUT, depth: 3, keepRing: true, compute });
  const plain = await pipe.run(12);
  assert.equal(plain.timeline, undefined);
  assert.equal(plain.stages.compute.busyMs, null, 'untraced: no GPU busy time');
  const traced = await pipe.run(12, { trace: true });
  assert.deepEqual(
    traced.timeline!.map((t) => t.index),
    [...Array(12).keys()],
  );
  assert.ok(traced.stages.compute.busyMs! > 0);
  const pulled: number[] = [];
  for await (const c of pipe.chunks(4, { trace: true })) {
    assert.deepEqual(c.data, reference(c.index));
    pulled.push(c.index);
    c.release();
  }
  assert.equal(pipe.lastStats!.timeline!.length, 4, 'pull style too');
  assert.equal((await pipe.run(12)).timeline, undefined, 'the next run is untraced again');
  assert.deepEqual(allocs, { pinned: 3, device: 3 }, 'one ring for all the runs');
  // A traced pipeline can run one run untraced; a non-boolean is refused before anything runs.
  const tracedPipe = createPipeline(fake, { outputBytes: OUT, depth: 2, compute, trace: true });
  assert.equal((await tracedPipe.run(4, { trace: false })).timeline, undefined);
  await assert.rejects(tracedPipe.run(4, { trace: 'yes' as unknown as boolean }), /trace must be true or false/);
  tracedPipe.close();
  pipe.close();
  assertNoLeaks(fake);
});
