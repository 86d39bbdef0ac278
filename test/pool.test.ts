// The device pool on the fake device: runs of different pipelines share one ring, reuse waits for
// the fences of the last use (host-side isDone, or a GPU-side wait for device buffers), limits,
// trim(), reserve(), close(), and the hazard checker catching a reuse before the fence completed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checked } from '../src/check/index.js';
import type { Event } from '../src/core/types.js';
import { createPipeline } from '../src/pipeline/index.js';
import { FakeDevice } from '../src/testing/index.js';
import { assertNoLeaks } from './pipeline-helpers.js';

const OUT = 4096;

/** A checked fake device with slow copies (so fences stay pending) and two streams. */
function twoStreams(a: string, b: string) {
  const fake = new FakeDevice({ copyCostMs: () => 5 });
  const dev = checked(fake, { onHazard: 'collect' });
  return { dev, a: dev.createStream({ label: a }), b: dev.createStream({ label: b }) };
}

/** A 64-byte pinned buffer from the pool, released with the fence of a D2H into it still running on `s`. */
function releasedWhileCopying() {
  const fake = new FakeDevice({ copyCostMs: () => 5 });
  const s = fake.createStream({ label: 'copy' });
  const src = fake.allocDevice(64, 'src');
  const p = fake.pool.acquirePinned(64, 'slot');
  fake.copy(s, p, src);
  fake.pool.release(p, fake.pool.fence([s]));
  return { fake, s, p };
}

function stampDevice(options: ConstructorParameters<typeof FakeDevice>[0] = {}) {
  const fake = new FakeDevice(options);
  fake.defineKernel('stamp', ['pointer', 'u32'], (_c, out, n) => {
    const o = out as Uint8Array;
    for (let k = 0; k < OUT; k++) o[k] = (Number(n) * 7 + k) & 255;
  });
  return fake;
}

function stampPipeline(dev: FakeDevice | ReturnType<typeof checked>, label: string, bad: number[]) {
  const k = dev.compile('', { kernels: { stamp: ['pointer', 'u32'] } }).getKernel('stamp');
  return createPipeline<number>(dev, {
    outputBytes: OUT,
    depth: 4,
    deviceSlots: 2,
    label,
    compute: (c) => k.launch(c.stream, { grid: 1, block: 1, writes: [c.output], chunk: c.index }, c.output, c.index),
    sink: (c) => {
      for (let j = 0; j < OUT; j += 97) if (c.data[j] !== ((c.index * 7 + j) & 255)) bad.push(c.index);
    },
  });
}

test('runs of different pipelines share the pool: the second allocates nothing, both intact', async () => {
  const fake = stampDevice();
  const bad: number[] = [];
  await stampPipeline(fake, 'job a', bad).run(20);
  const first = fake.pool.stats();
  assert.deepEqual([first.pinned.misses, first.device.misses, first.pinned.hits], [4, 2, 0]);
  assert.equal(first.pinned.held, 4);
  assert.equal(first.pinned.inUse, 0);
  assert.equal(first.bytesPinned, 4 * OUT);
  const live = fake.liveResources();
  await stampPipeline(fake, 'job b', bad).run(20);
  const second = fake.pool.stats();
  assert.deepEqual([second.pinned.misses, second.device.misses], [4, 2], 'no new buffer');
  assert.deepEqual([second.pinned.hits, second.device.hits], [4, 2]);
  assert.equal(second.bytesPinned, 4 * OUT);
  assert.deepEqual(
    { pinned: fake.liveResources().pinnedBuffers, device: fake.liveResources().deviceBuffers },
    { pinned: live.pinnedBuffers, device: live.deviceBuffers },
  );
  assert.deepEqual(bad, []);
  assertNoLeaks(fake);
});

test('a pinned buffer goes back with its fence: handed out again only once the fence completed', async () => {
  const { fake, s, p } = releasedWhileCopying();
  assert.equal(fake.pool.ready('pinned', 64), 0, 'the D2H into it is still running');
  const other = fake.pool.acquirePinned(64, 'slot');
  assert.notEqual(other, p, 'a new buffer, not the one the copy still writes');
  await s.synchronize();
  assert.equal(fake.pool.ready('pinned', 64), 1);
  assert.equal(fake.pool.acquirePinned(64, 'slot'), p, 'reused once the fence completed');
  assert.deepEqual([fake.pool.stats().pinned.hits, fake.pool.stats().pinned.misses], [1, 2]);
  fake.close();
});

test('a device buffer acquired for a stream is reused at once, that stream waiting on the fence on the GPU', async () => {
  const { dev, a, b } = twoStreams('a', 'b');
  const host = dev.allocPinned(64, 'host');
  const d = dev.pool.acquireDevice(64, 'scratch', a);
  dev.memset(a, d, 1);
  dev.copy(a, host, d);
  dev.pool.release(d, dev.pool.fence([a]));
  // Another stream, fence pending: the same buffer, ordered after the D2H by a GPU-side wait.
  const again = dev.pool.acquireDevice(64, 'scratch', b);
  assert.equal(again, d);
  dev.memset(b, again, 2);
  await dev.synchronize();
  assert.deepEqual(
    dev.hazards.map((h) => h.message),
    [],
  );
  assert.equal(host.bytes[0], 1, 'the D2H read the first holder’s bytes');
  dev.close();
});

test('planted: a pool reusing a pinned buffer before its fence completed is caught by the hazard checker', async () => {
  const { dev, a, b } = twoStreams('job a copy', 'job b copy');
  // The plant: fences whose isDone() claims completion without asking the device (so without the
  // host observing anything), as a pool that skipped the check would behave.
  const createEvent = dev.createEvent.bind(dev);
  dev.createEvent = (options) => {
    const e: Event = createEvent(options);
    e.isDone = () => true;
    return e;
  };
  const src = dev.allocDevice(64, 'src');
  const p = dev.pool.acquirePinned(64, 'pinned out[0]');
  dev.copy(a, p, src, { chunk: 3 });
  dev.pool.release(p, dev.pool.fence([a]));
  const reused = dev.pool.acquirePinned(64, 'pinned out[0]');
  assert.equal(reused, p, 'the planted pool hands the buffer out while the D2H still writes it');
  dev.copy(b, reused, src, { chunk: 0 });
  assert.equal(dev.hazards.length, 1);
  const h = dev.hazards[0]!;
  assert.equal(h.poolReuse, true);
  assert.equal(h.hazard, 'write-after-write');
  assert.equal(h.earlier.where, 'job a copy');
  assert.equal(h.later.where, 'job b copy');
  assert.match(h.message, /pool handed the buffer out again before the fence of its last use completed/);
  await dev.synchronize();
  dev.close();
});

test('the same reuse, unplanted: the checker is silent once the host saw the fence complete', async () => {
  const { dev, a, b } = twoStreams('job a copy', 'job b copy');
  const src = dev.allocDevice(64, 'src');
  const p = dev.pool.acquirePinned(64, 'pinned out[0]');
  dev.copy(a, p, src);
  const [fence] = dev.pool.fence([a]);
  dev.pool.release(p, [fence!]);
  await fence!.completion();
  const reused = dev.pool.acquirePinned(64, 'pinned out[0]');
  assert.equal(reused, p);
  dev.copy(b, reused, src);
  assert.deepEqual(
    dev.hazards.map((h) => h.message),
    [],
  );
  await dev.synchronize();
  dev.close();
});

test('a run that saw every copy complete hands its ring back unfenced; the next run reuses it, no hazard', async () => {
  const fake = stampDevice({ copyCostMs: () => 1 });
  const dev = checked(fake, { onHazard: 'collect' });
  let fences = 0;
  const fence = dev.pool.fence.bind(dev.pool);
  dev.pool.fence = (streams) => (fences++, fence(streams));
  const bad: number[] = [];
  await stampPipeline(dev, 'job a', bad).run(12);
  assert.equal(fences, 0, 'nothing left on the GPU: nothing to fence');
  assert.equal(dev.pool.ready('pinned', OUT), 4, 'the ring is reusable at once');
  await stampPipeline(dev, 'job b', bad).run(12);
  assert.equal(fences, 0);
  assert.deepEqual([dev.pool.stats().pinned.hits, dev.pool.stats().device.hits], [4, 2]);
  // A run aborted from the host stage of chunk 2, with later chunks' copies queued, fences its ring.
  const ac = new AbortController();
  const k = dev.compile('', { kernels: { stamp: ['pointer', 'u32'] } }).getKernel('stamp');
  const stopped = createPipeline<number>(dev, {
    outputBytes: OUT,
    depth: 4,
    deviceSlots: 2,
    label: 'job c',
    compute: (c) => k.launch(c.stream, { grid: 1, block: 1, writes: [c.output], chunk: c.index }, c.output, c.index),
    sink: (c) => {
      if (c.index === 2) ac.abort();
    },
  }).run(12, { signal: ac.signal });
  await assert.rejects(stopped, { name: 'AbortError' });
  assert.equal(fences, 1);
  assert.deepEqual(bad, []);
  assert.deepEqual(
    dev.hazards.map((h) => h.message),
    [],
  );
  dev.close();
});

test('limits: idle bytes over the limit are freed, oldest first; trim() frees the rest', async () => {
  const fake = new FakeDevice();
  const bufs = [1, 2, 3].map(() => fake.pool.acquirePinned(1000, 'x'));
  const dev = fake.pool.acquireDevice(500, 'y');
  fake.pool.setLimits({ pinnedBytes: 2000 });
  for (const b of bufs) fake.pool.release(b);
  fake.pool.release(dev);
  let s = fake.pool.stats();
  assert.deepEqual([s.pinned.held, s.pinned.heldBytes, s.bytesPinned], [2, 2000, 2000]);
  assert.equal(bufs[0]!.closed, true, 'the least recently returned went first');
  assert.equal(fake.liveResources().pinnedBuffers, 2);
  assert.equal(s.device.heldBytes, 500);
  assert.throws(() => fake.pool.setLimits({ deviceBytes: -1 }), /deviceBytes must be a number of bytes >= 0/);
  assert.equal(fake.pool.trim(1000), 1000 + 0, 'pinned down to 1000, device already under it');
  assert.equal(fake.pool.trim(), 1500);
  s = fake.pool.stats();
  assert.deepEqual([s.bytesPinned, s.bytesDevice, s.pinned.held, s.device.held], [0, 0, 0, 0]);
  assert.deepEqual(fake.liveResources().pinnedBuffers + fake.liveResources().deviceBuffers, 0);
  fake.close();
});

test('trim() keeps what a pending fence still covers; release() refuses a stranger', async () => {
  const { fake, s, p } = releasedWhileCopying();
  assert.equal(fake.pool.trim(), 0);
  assert.equal(p.closed, false);
  await s.synchronize();
  assert.equal(fake.pool.trim(), 64);
  assert.equal(p.closed, true);
  assert.throws(() => fake.pool.release(fake.allocPinned(8, 'mine')), /'mine' was not handed out by this pool/);
  fake.close();
});

test('reserve() pins up front: the first run after it allocates nothing (buffers, events, streams), and auto depth starts from it', async () => {
  const fake = stampDevice();
  fake.reserve({ pinnedBytes: 6 * OUT, deviceBytes: 6 * OUT, bufferBytes: OUT });
  const s = fake.pool.stats();
  assert.deepEqual([s.pinned.held, s.device.held, s.bytesPinned], [6, 6, 6 * OUT]);
  // Beside each buffer a plain and a timing event, and a run's two streams; reserving again tops
  // up, it does not add.
  assert.deepEqual([s.event.held, s.stream.held], [2 * 12, 2]);
  fake.reserve({ pinnedBytes: 6 * OUT, deviceBytes: 6 * OUT, bufferBytes: OUT });
  assert.deepEqual([fake.pool.stats().event.held, fake.pool.stats().stream.held], [2 * 12, 2]);
  const k = fake.compile('', { kernels: { stamp: ['pointer', 'u32'] } }).getKernel('stamp');
  const stats = await createPipeline<number>(fake, {
    outputBytes: OUT,
    compute: (c) => k.launch(c.stream, { grid: 1, block: 1 }, c.output, c.index),
  }).run(3);
  assert.equal(stats.depth, 3, 'auto: what the pool holds, no more than the chunks');
  const after = fake.pool.stats();
  assert.deepEqual([after.pinned.misses, after.device.misses], [0, 0]);
  assert.equal(after.event.misses, 0, 'the run made no event: reserve() had made them');
  assert.deepEqual([after.stream.misses, after.stream.hits], [0, 2], "the run took reserve()'s streams");
  assert.throws(() => fake.reserve({ pinnedBytes: 10, bufferBytes: 0 }), /bufferBytes must be a positive integer/);
  assertNoLeaks(fake);
});

test('close() frees every idle resource; later releases free theirs; the device closes its pool', async () => {
  const fake = stampDevice();
  const bad: number[] = [];
  await stampPipeline(fake, 'job', bad).run(8);
  const held = fake.pool.acquirePinned(OUT, 'held');
  fake.pool.close();
  fake.pool.close();
  assert.equal(fake.liveResources().pinnedBuffers, 1, 'only the one still in use');
  assert.equal(fake.liveResources().events + fake.liveResources().streams, 0);
  fake.pool.release(held);
  assert.equal(held.closed, true);
  assert.throws(() => fake.pool.acquirePinned(8), /pool was closed/);
  const other = stampDevice();
  await stampPipeline(other, 'job', bad).run(8);
  other.close();
  assert.equal(other.pool.closed, true);
  assert.deepEqual(bad, []);
});
