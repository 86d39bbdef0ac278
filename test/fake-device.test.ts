// The fake device keeps the object model's contract: in-order streams, events as barriers,
// engines that overlap, copies that read their source when they run, faults, accounting.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CudaError } from '../src/cuda/errors.js';
import { UsageError } from '../src/util/errors.js';
import { FakeDevice } from '../src/testing/index.js';

function setup(options = {}) {
  const fake = new FakeDevice({ copyBytesPerMs: 1000, copyLatencyMs: 0, ...options });
  fake.defineKernel('fill', ['pointer', 'u32'], (_c, out, v) => void (out as Uint8Array).fill(v as number), 1);
  fake.defineKernel('slow', [], () => {}, 5);
  const program = fake.compile('__global__ void fill() {}');
  return { fake, fill: program.getKernel('fill'), slow: program.getKernel('slow') };
}

test('a stream is an in-order queue; timing events measure virtual time exactly', async () => {
  const { fake, fill } = setup();
  const s = fake.createStream({ label: 's' });
  const a = fake.createEvent({ timing: true });
  const b = fake.createEvent({ timing: true });
  const buf = fake.allocDevice(2000);
  const host = fake.allocPinned(2000);
  a.record(s);
  fill.launch(s, { grid: 1, block: 1 }, buf, 7);
  fake.copy(s, host, buf);
  b.record(s);
  assert.equal(host.bytes[0], 0, 'nothing runs inside the enqueueing call');
  await b.completion();
  assert.ok(b.isDone());
  assert.equal(b.elapsedMs(a), 1 + 2, 'kernel 1 ms + 2000 B at 1000 B/ms');
  assert.ok(host.bytes.every((x) => x === 7));
});

test('compute and copy engines overlap across streams; one engine serialises', async () => {
  for (const [engines, expected] of [
    [2, 5],
    [1, 5],
  ] as const) {
    const { fake, slow } = setup({ copyEngines: engines });
    const cs = fake.createStream();
    const up = fake.createStream();
    const down = fake.createStream();
    const t0 = fake.createEvent({ timing: true });
    const ends = [
      fake.createEvent({ timing: true }),
      fake.createEvent({ timing: true }),
      fake.createEvent({ timing: true }),
    ];
    const dev = fake.allocDevice(5000);
    const pin = fake.allocPinned(5000);
    t0.record(cs);
    up.waitEvent(t0);
    down.waitEvent(t0);
    slow.launch(cs, { grid: 1, block: 1 });
    fake.copy(up, dev, pin);
    fake.copy(down, pin, dev);
    ends[0]!.record(cs);
    ends[1]!.record(up);
    ends[2]!.record(down);
    await fake.synchronize();
    const last = Math.max(...ends.map((e) => e.elapsedMs(t0)));
    // 5 ms kernel, two 5 ms copies: all three at once with 2 copy engines, copies in turn with 1.
    assert.equal(last, engines === 2 ? expected : 10);
    fake.close();
  }
});

test('without waitEvent a copy reads stale memory; with it, the kernel output (barrier 2)', async () => {
  for (const barrier of [false, true]) {
    const { fake, fill, slow } = setup();
    const cs = fake.createStream();
    const cp = fake.createStream();
    const done = fake.createEvent();
    const dev = fake.allocDevice(100);
    const pin = fake.allocPinned(100);
    slow.launch(cs, { grid: 1, block: 1 }); // keeps the compute engine busy first
    fill.launch(cs, { grid: 1, block: 1 }, dev, 9);
    done.record(cs);
    if (barrier) cp.waitEvent(done);
    fake.copy(cp, pin, dev);
    await cp.synchronize();
    assert.equal(pin.bytes[0], barrier ? 9 : 0);
    await fake.synchronize();
  }
});

test('waiting on a never-recorded event is a no-op; completion() targets the record current at the call', async () => {
  const { fake, slow } = setup();
  const s = fake.createStream();
  const e = fake.createEvent();
  s.waitEvent(e);
  assert.ok(e.isDone());
  e.record(s);
  slow.launch(s, { grid: 1, block: 1 });
  const first = e.completion();
  e.record(s);
  await first;
  await e.completion();
});

test('failNext: the chosen call fails once with a CudaError, later calls work', () => {
  const { fake, fill } = setup();
  const s = fake.createStream();
  const buf = fake.allocDevice(10);
  fake.failNext('launch', undefined, { skip: 1 });
  fill.launch(s, { grid: 1, block: 1 }, buf, 1);
  assert.throws(
    () => fill.launch(s, { grid: 1, block: 1 }, buf, 1),
    (e: unknown) => e instanceof CudaError && e.cudaName === 'CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES',
  );
  fill.launch(s, { grid: 1, block: 1 }, buf, 1);
  fake.failNext('alloc');
  assert.throws(() => fake.allocDevice(10), /CUDA_ERROR_OUT_OF_MEMORY/);
  fake.failNext('copy', new Error('custom'));
  assert.throws(() => fake.copy(s, fake.allocPinned(10), buf), /custom/);
});

test('a throwing kernel faults the device: sticky CUDA_ERROR_ILLEGAL_ADDRESS everywhere after', async () => {
  const { fake } = setup();
  fake.defineKernel('oob', [], () => {
    throw new RangeError('index 10 out of range');
  });
  const s = fake.createStream();
  const e = fake.createEvent();
  fake.compile('').getKernel('oob').launch(s, { grid: 1, block: 1 });
  e.record(s);
  await assert.rejects(
    e.completion(),
    (err: unknown) => err instanceof CudaError && err.sticky && err.cudaName === 'CUDA_ERROR_ILLEGAL_ADDRESS',
  );
  assert.throws(() => fake.allocDevice(1), /CUDA_ERROR_ILLEGAL_ADDRESS/);
  assert.throws(() => e.isDone(), /CUDA_ERROR_ILLEGAL_ADDRESS/);
  s.close();
  e.close();
  assert.equal(fake.liveResources().streams, 0);
});

test('memory accounting shows leaks and out-of-memory says how much was asked and free', () => {
  const fake = new FakeDevice({ totalMemory: 1000 });
  const a = fake.allocDevice(600, 'a');
  assert.deepEqual(fake.memoryInfo(), { free: 400, total: 1000 });
  assert.throws(() => fake.allocDevice(500, 'b'), /CUDA_ERROR_OUT_OF_MEMORY.*500 B asked, 400 B free/);
  a.close();
  a.close();
  assert.deepEqual(fake.memoryInfo(), { free: 1000, total: 1000 });
  assert.deepEqual(fake.liveResources(), {
    streams: 0,
    events: 0,
    deviceBuffers: 0,
    pinnedBuffers: 0,
    deviceBytes: 0,
    pinnedBytes: 0,
  });
});

test('use after close is a UsageError naming the resource; close() is idempotent', () => {
  const { fake, fill } = setup();
  const s = fake.createStream({ label: 'compute' });
  const e = fake.createEvent({ label: 'done' });
  const p = fake.allocPinned(8, 'out');
  s.close();
  s[Symbol.dispose]();
  e.close();
  p.close();
  assert.throws(
    () => e.record(fake.createStream()),
    (err: unknown) => err instanceof UsageError && /event 'done' used after close/.test(err.message),
  );
  assert.throws(
    () => fill.launch(s, { grid: 1, block: 1 }, fake.allocDevice(4), 1),
    /stream 'compute' used after close/,
  );
  assert.throws(() => p.bytes, /pinned buffer 'out' read after close/);
});

test('kernels: unknown names list the defined ones; arguments and shapes are checked', () => {
  const { fake, fill } = setup();
  const program = fake.compile('');
  assert.throws(() => program.getKernel('nope'), /no kernel 'nope' is defined; defined: fill, slow/);
  const s = fake.createStream();
  const buf = fake.allocDevice(4);
  assert.throws(() => fill.launch(s, { grid: 1, block: 1 }, buf), /takes 2 arguments/);
  assert.throws(() => fill.launch(s, { grid: 1, block: 1 }, buf, -1), /argument 1 is u32/);
  assert.throws(() => fill.launch(s, { grid: 1, block: [2048] }, buf, 1), /more than 1024 threads/);
  assert.throws(() => fill.launch(s, { grid: 0, block: 1 }, buf, 1), /positive integers/);
  // A bigint address inside a buffer reaches the kernel as a view from that address.
  let seen = -1;
  fake.defineKernel('peek', ['pointer'], (_c, p) => void (seen = (p as Uint8Array).byteLength));
  fake
    .compile('')
    .getKernel('peek')
    .launch(s, { grid: 1, block: 1 }, buf.ptr + 1n);
  return s.synchronize().then(() => assert.equal(seen, 3));
});

test('elapsedMs on a non-timing or unfinished event fails with the CUDA name', async () => {
  const { fake, slow } = setup();
  const s = fake.createStream();
  const a = fake.createEvent({ timing: true });
  const b = fake.createEvent({ timing: true });
  const c = fake.createEvent();
  a.record(s);
  slow.launch(s, { grid: 1, block: 1 });
  b.record(s);
  c.record(s);
  assert.throws(() => b.elapsedMs(a), /CUDA_ERROR_NOT_READY/);
  await b.completion();
  assert.throws(() => c.elapsedMs(a), /CUDA_ERROR_INVALID_HANDLE/);
  assert.equal(b.elapsedMs(a), 5);
});
