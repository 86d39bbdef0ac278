// Statistics, the traced timeline (the barriers are visible in it), and 'auto' depth.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseDepth, createPipeline, type ComputeChunk } from '../src/pipeline/index.js';
import { FakeDevice } from '../src/testing/index.js';
import { assertNoLeaks, tick, watchUnhandled } from './pipeline-helpers.js';

const checkUnhandled = watchUnhandled();

function device(kernelMs: number, copyBytesPerMs: number) {
  const fake = new FakeDevice({ copyBytesPerMs, copyLatencyMs: 0 });
  fake.defineKernel(
    'fill',
    ['pointer', 'u32'],
    (_c, out, n) => void (out as Uint8Array).fill((n as number) & 255),
    kernelMs,
  );
  const k = fake.compile('').getKernel('fill');
  return { fake, compute: (c: ComputeChunk<unknown>) => k.launch(c.stream, { grid: 1, block: 1 }, c.output, c.index) };
}

/** An 'auto' run of 30 chunks whose sink checks each chunk's bytes; asserts all arrived, in order. */
async function deliversIntact(fake: FakeDevice, compute: (c: ComputeChunk<unknown>) => void | Promise<void>) {
  const seen: number[] = [];
  const stats = await createPipeline(fake, {
    outputBytes: 1000,
    compute,
    sink: (c) => {
      assert.ok(c.data.every((b) => b === (c.index & 255)));
      seen.push(c.index);
    },
  }).run(30);
  assert.deepEqual(
    seen,
    Array.from({ length: 30 }, (_, n) => n),
  );
  return stats;
}

test('without trace: GPU busy times, bottleneck and efficiency are unknown; sink time and wall are measured', async () => {
  const { fake, compute } = device(1, 1000);
  const stats = await createPipeline(fake, { outputBytes: 1000, depth: 2, compute, sink: () => {} }).run(10);
  assert.equal(stats.stages.compute.busyMs, null);
  assert.equal(stats.stages.copy.busyMs, null);
  assert.equal(stats.stages.upload.busyMs, 0);
  assert.ok(stats.stages.sink.busyMs! >= 0);
  assert.equal(stats.efficiency, null);
  assert.equal(stats.bottleneck, null);
  assert.equal(stats.timeline, undefined);
  assert.ok(stats.wallMs > 0);
  assert.equal(stats.copyThroughput.busy, null);
});

for (const depth of [1, 2, 3]) {
  test(`trace, depth ${depth}: the timeline shows every barrier`, async () => {
    // 1 MB at 1000 B/ms: the copy takes 1 virtual ms, the kernel 2.
    const { fake, compute } = device(2, 1000);
    const stats = await createPipeline(fake, {
      outputBytes: 1000,
      depth,
      compute,
      trace: true,
      sink: () => tick().then(() => {}),
    }).run(30);
    const tl = stats.timeline!;
    assert.equal(tl.length, 30);
    const eps = 1e-6;
    for (const t of tl) {
      assert.ok(Math.abs(t.compute[1] - t.compute[0] - 2) < 1e-6, 'kernel cost');
      assert.ok(Math.abs(t.copy[1] - t.copy[0] - 1) < 1e-6, 'copy cost');
      assert.ok(t.copy[0] >= t.compute[1] - eps, `barrier 2 at chunk ${t.index}`);
      // Barrier 4 (GPU end → host start) cannot be read off a fake timeline: the virtual clock
      // runs ahead of the host's while the host waits. The bit-exact tests cover it instead.
      const p = tl[t.index - depth];
      if (p) {
        assert.ok(t.compute[0] >= p.copy[1] - eps, `barrier 1 at chunk ${t.index}`);
        assert.ok(t.enqueuedCopy >= p.sink[1] - eps, `barrier 3 at chunk ${t.index}`);
      }
    }
    // Sums of spans on a clock that also tracks performance.now(): equal up to float rounding.
    assert.ok(Math.abs(stats.stages.compute.busyMs! - 60) < 1e-6, `compute busy ${stats.stages.compute.busyMs}`);
    assert.ok(Math.abs(stats.stages.copy.busyMs! - 30) < 1e-6, `copy busy ${stats.stages.copy.busyMs}`);
    // Known with trace (on the fake it mixes virtual GPU time with real wall time: not a figure).
    assert.ok(stats.efficiency! > 0);
    assert.ok(stats.bottleneck !== null);
    assert.ok(stats.copyThroughput.busy! > 0);
    assertNoLeaks(fake);
  });
}

test('auto depth grows the ring when the host stage is slow and explains why', async () => {
  const { fake, compute } = device(0.01, 1e6);
  const stats = await createPipeline(fake, {
    outputBytes: 1000,
    compute,
    sink: (c) => (c.index < 6 ? new Promise((r) => setTimeout(r, 3)) : undefined),
  }).run(40);
  assert.equal(stats.chunks, 40);
  assert.ok(stats.depth >= 2 && stats.depth <= 16);
  assert.ok(stats.deviceSlots >= 2 && stats.deviceSlots <= stats.depth);
  assert.match(stats.depthReason!, /^auto depth \d+, \d+ on the device: measured/);
  assertNoLeaks(fake);
  const few = await createPipeline(fake, { outputBytes: 1000, compute }).run(2);
  assert.equal(few.depth, 2);
  assert.match(few.depthReason!, /too few to time/);
  // With 16 slots ready in a fresh device's pool 'auto' starts with all 16, and with 20 ms kernels
  // 20 chunks are all enqueued before chunk 3 is timed (80 ms of kernels cover a slow host taking
  // its slots on first use). The run says so, and what the measurements asked for, rather than
  // calling 20 chunks too few.
  const { fake: warm, compute: warmCompute } = device(20, 1e6);
  warm.reserve({ pinnedBytes: 16 * 1000, deviceBytes: 16 * 1000, bufferBytes: 1000 });
  const early = await createPipeline(warm, { outputBytes: 1000, compute: warmCompute }).run(20);
  assert.equal(early.depth, 16);
  assert.match(
    early.depthReason!,
    new RegExp(
      '^auto depth 16: every chunk was enqueued before the warm-up measurements came in, ' +
        String.raw`so the run kept the 16 slots it started with; they asked for \d+, \d+ on the device: measured`,
    ),
  );
  assertNoLeaks(warm);
});

test('auto depth from a cold pool starts at double buffering and grows to what it measured; the next run starts there', async () => {
  const { fake, compute } = device(0.01, 1e6);
  const first = await createPipeline(fake, {
    outputBytes: 1000,
    compute,
    sink: () => new Promise((r) => setTimeout(r, 2)),
  }).run(30);
  // A 2 ms sink and a 1 ms jitter allowance ask for more than double buffering; on the fake
  // device allocating costs no time, so growing is free.
  assert.ok(first.depth > 2, first.depthReason);
  assert.equal(fake.pool.stats().pinned.misses, first.depth);
  const next = await createPipeline(fake, { outputBytes: 1000, compute }).run(3);
  assert.equal(next.depth, 3); // what the first run decided, within the 3 chunks
  assertNoLeaks(fake);
});

test('auto depth uses fewer slots than it allocated at the start when stages are long, and delivers intact', async () => {
  // 16 slots ready in the pool: 'auto' starts with them; 2 ms stages need about 4.
  const { fake, compute } = device(2, 500);
  fake.reserve({ pinnedBytes: 16 * 1000, deviceBytes: 16 * 1000, bufferBytes: 1000 });
  const seen: number[] = [];
  const deviceSlot: number[] = [];
  const hostSlot: number[] = [];
  const stats = await createPipeline(fake, {
    outputBytes: 1000,
    compute: (c) => {
      deviceSlot[c.index] = c.slot;
      return compute(c);
    },
    sink: (c) => {
      assert.ok(
        c.data.every((b) => b === (c.index & 255)),
        `chunk ${c.index} intact`,
      );
      seen.push(c.index);
      hostSlot[c.index] = c.slot;
    },
  }).run(100);
  assert.deepEqual(
    seen,
    Array.from({ length: 100 }, (_, n) => n),
  );
  assert.ok(stats.depth >= 3 && stats.depth <= 6, `depth ${stats.depth}`);
  // Each half switches where its slot 0 holds the oldest chunk: no slot is ever reused sooner
  // than the final ring size (switched mid-turn, chunk n could reuse chunk n - 1's device slot,
  // and its kernel would wait for that copy).
  const minReuse = (slots: number[]) => {
    const last = new Map<number, number>();
    let min = Infinity;
    slots.forEach((k, n) => {
      if (last.has(k)) min = Math.min(min, n - last.get(k)!);
      last.set(k, n);
    });
    return min;
  };
  assert.ok(minReuse(deviceSlot) >= stats.deviceSlots, `a device slot reused after ${minReuse(deviceSlot)} chunks`);
  assert.ok(minReuse(hostSlot) >= stats.depth, `a host slot reused after ${minReuse(hostSlot)} chunks`);
  assert.match(
    stats.depthReason!,
    new RegExp(
      `uses ${stats.depth} of the 16 host slots and ${stats.deviceSlots} of the 16 device slots it started with`,
    ),
  );
  assertNoLeaks(fake);
});

test('chooseDepth: balanced stages need more slots than a dominant one; bounded by 16 and memory', () => {
  const s = (compute: number, copy: number, sink = 0, wake = 0.05) => ({ upload: 0, compute, copy, sink, wake });
  const balanced = chooseDepth([s(1, 1), s(1, 1), s(1, 1)], 1 << 20, 1e12).depth;
  const computeBound = chooseDepth([s(2, 1), s(2, 1), s(2, 1)], 1 << 20, 1e12).depth;
  assert.equal(balanced, 4);
  assert.equal(computeBound, 3);
  assert.equal(chooseDepth([s(0.001, 0.001, 0, 1)], 1 << 20, 1e12).depth, 16);
  // 1 GiB slots with 4 GiB free: the 4 GiB pinned limit holds 4, half the free device memory 2.
  const tight = chooseDepth([s(0.001, 0.001, 0, 1)], 1 << 30, 4 * 2 ** 30);
  assert.equal(tight.depth, 4);
  assert.equal(tight.deviceSlots, 2);
  assert.match(tight.reason, /capped at 4 by the 4 GiB pinned limit/);
  assert.match(tight.reason, /capped at 2 by device memory/);
  // Device slots ready without allocating are not capped, and free memory is not asked for them.
  const notAsked = () => assert.fail('free device memory asked for slots the pool holds ready');
  assert.equal(chooseDepth([s(0.001, 0.001, 0, 1)], 1 << 30, notAsked, 0, 0, 3).deviceSlots, 3);
  // One ready, the rest new: 1 + half of 2 GiB in 1 GiB slots, of the 3 the GPU-side cycle needs.
  const mixed = chooseDepth([s(0.001, 0.001, 0, 1)], 1 << 30, () => 2 * 2 ** 30, 0, 0, 1);
  assert.equal(mixed.deviceSlots, 2);
  assert.match(mixed.reason, /capped at 2 by device memory \(1 ready, new ones in 50% of free\)/);
});

test('auto depth: a device slot of the start size that no longer fits ends the device half there; the run delivers', async () => {
  // 0.1 ms kernels and 0.1 ms copies: a 0.2 ms GPU-side cycle asks for 3 device slots.
  const { fake, compute } = device(0.1, 1e4);
  const first = await createPipeline(fake, { outputBytes: 1000, compute }).run(30);
  assert.ok(first.deviceSlots > 2, first.depthReason);
  // The next run takes its third device slot on first use, from an emptied pool: that fails.
  fake.pool.trim();
  fake.failNext('alloc', new Error('out of device memory'), { skip: 2 });
  const slotOf: number[] = [];
  const next = await deliversIntact(fake, (c) => {
    slotOf[c.index] = c.slot;
    return compute(c);
  });
  // Chunk 2 found no third slot and took the oldest of the two (its own measurement may grow the
  // ring again later: the memory is back once the failure passed).
  assert.deepEqual(slotOf.slice(0, 3), [0, 1, 0]);
  assert.match(
    next.depthReason!,
    new RegExp(
      `; started with ${first.depth} \\(2 on the device\\) of the ${first.depth} \\(${first.deviceSlots}\\) planned: ` +
        `allocating the rest failed \\(out of device memory\\)$`,
    ),
  );
  assertNoLeaks(fake);
});

test('no unhandled rejections', () => checkUnhandled());

test('trace with 4 pinned over 2 device slots: each chunk records both of its slots', async () => {
  const { fake, compute } = device(2, 1000);
  const seen: number[] = [];
  const stats = await createPipeline(fake, {
    outputBytes: 1000,
    depth: 4,
    deviceSlots: 2,
    trace: true,
    compute: (c) => {
      seen.push(c.slot);
      return compute(c);
    },
    sink: () => {},
  }).run(12);
  const tl = stats.timeline!;
  assert.deepEqual(
    tl.map((t) => t.slot),
    tl.map((t) => t.index % 4),
  );
  assert.deepEqual(
    tl.map((t) => t.deviceSlot),
    tl.map((t) => t.index % 2),
  );
  assert.deepEqual(
    seen,
    tl.map((t) => t.index % 2),
  );
  assertNoLeaks(fake);
});

test('auto depth: a start size that no longer fits starts with what could be allocated, and the run delivers', async () => {
  // 0.2 ms kernels and a 1 ms jitter allowance: 'auto' asks for about 7 host slots.
  const { fake, compute } = device(0.2, 1e6);
  const first = await createPipeline(fake, { outputBytes: 1000, compute }).run(30);
  assert.ok(first.depth > 3, first.depthReason);
  // The next run starts at the decided ring; with the pool emptied it must pin it again, and the
  // fourth pinned allocation fails.
  fake.pool.trim();
  fake.failNext('pinnedAlloc', new Error('out of pinned memory'), { skip: 3 });
  const next = await deliversIntact(fake, compute);
  assert.match(
    next.depthReason!,
    new RegExp(
      `; started with 3 \\(\\d+ on the device\\) of the ${first.depth} \\(\\d+\\) planned: allocating the rest failed \\(out of pinned memory\\)$`,
    ),
  );
  assertNoLeaks(fake);
  // With a fixed depth the same failure fails the run's set-up.
  fake.pool.trim();
  fake.failNext('pinnedAlloc', new Error('out of pinned memory'), { skip: 3 });
  await assert.rejects(createPipeline(fake, { outputBytes: 1000, compute, depth: 6 }).run(30), {
    stage: 'setup',
    message: /setting up the run failed: out of pinned memory/,
  });
  assertNoLeaks(fake);
});
