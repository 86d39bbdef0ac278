// The raw bindings and the object model on a real GPU. Skips, with the reason, without a driver.
// The device-fault test runs last: an illegal address loses the primary context for the process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { driverAvailable } from '../../src/core/open.js';
import { open } from '../../src/pipeline/device.js';
import type { CudaDevice } from '../../src/pipeline/device.js';
import { CudaError, NvrtcError } from '../../src/cuda/errors.js';
import { UsageError } from '../../src/util/errors.js';

const avail = driverAvailable();
const skip = avail.ok ? false : `no CUDA driver: ${avail.reason}`;
if (skip) console.log(`# skipping GPU foundation tests: ${skip}`);

// Each run compiles into a fresh cache so the cache test sees a miss first.
const cache = mkdtempSync(join(tmpdir(), 'tandem-gpu-cache-'));
process.env.TANDEM_CACHE_DIR = cache;

const SOURCE = `
extern "C" __global__ void saxpy(float *out, const float *x, const float *y, float a, unsigned int n) {
  unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a * x[i] + y[i];
}
// Busy-waits ns nanoseconds of the GPU's global timer, then writes value to *flag (if any).
extern "C" __global__ void spin(unsigned long long ns, unsigned int *flag, unsigned int value) {
  unsigned long long start, now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now)); } while (now - start < ns);
  if (flag) *flag = value;
}
extern "C" __global__ void inc(unsigned int *out, const unsigned int *in) { out[0] = in[0] + 1; }
extern "C" __global__ void poke(unsigned int *bad) { *bad = 1; }
`;
const KERNELS = {
  saxpy: ['pointer', 'pointer', 'pointer', 'f32', 'u32'],
  spin: ['u64', 'pointer', 'u32'],
  inc: ['pointer', 'pointer'],
  poke: ['pointer'],
} as const;

let device: CudaDevice;

test('open: properties of device 0', { skip }, async () => {
  device = await open(0);
  const p = device.properties;
  console.log(
    `# ${p.name} cc ${p.computeCapability.join('.')} SMs ${p.smCount} copy engines ${p.asyncEngineCount} bus ${p.pciBusId} pcie ${JSON.stringify(p.pcie)}`,
  );
  assert.ok(p.name.length > 0);
  assert.ok(p.computeCapability[0] >= 5);
  assert.ok(p.smCount > 0);
  assert.ok(p.asyncEngineCount >= 1);
  assert.ok(p.totalMemory > 1024 ** 3);
  assert.match(p.pciBusId, /^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9]$/i);
  const m = device.memoryInfo();
  assert.ok(m.free > 0 && m.free <= m.total);
});

test('alloc/free: cuMemGetInfo returns to its baseline', { skip }, () => {
  const before = device.memoryInfo().free;
  const bufs = [0, 1, 2, 3].map((i) => device.allocDevice(256 * 1024 ** 2, `big${i}`));
  const during = device.memoryInfo().free;
  assert.ok(before - during >= 1024 ** 3, `1 GiB allocated: ${before} → ${during}`);
  for (const b of bufs) b.close();
  const after = device.memoryInfo().free;
  assert.ok(Math.abs(after - before) <= 32 * 1024 ** 2, `free back to baseline: ${before} → ${after}`);
});

test('out of memory is a CudaError naming the call, the size asked and what is free', { skip }, () => {
  assert.throws(
    () => device.allocDevice(device.properties.totalMemory * 2, 'huge'),
    (e: Error) =>
      e instanceof CudaError &&
      /^CUDA_ERROR_OUT_OF_MEMORY: .*\(cuMemAlloc_v2, [\d.]+ GiB asked, [\d.]+ GiB free for 'huge'\)/.test(e.message),
  );
});

test('random data H2D → kernel → D2H matches a CPU reference', { skip }, async () => {
  const n = (1 << 20) + 3;
  const bytes = n * 4;
  using program = device.compile(SOURCE, { kernels: KERNELS, name: 'foundation.cu' });
  const saxpy = program.getKernel('saxpy');
  using stream = device.createStream({ label: 'compute' });
  using hx = device.allocPinned(bytes, 'x');
  using hy = device.allocPinned(bytes, 'y');
  using hout = device.allocPinned(bytes, 'out');
  const x = hx.view(Float32Array);
  const y = hy.view(Float32Array);
  for (let i = 0; i < n; i++) {
    x[i] = Math.random() * 2 - 1;
    y[i] = Math.random() * 2 - 1;
  }
  using dx = device.allocDevice(bytes, 'dx');
  using dy = device.allocDevice(bytes, 'dy');
  using dout = device.allocDevice(bytes, 'dout');
  device.copy(stream, dx, hx);
  device.copy(stream, dy, hy);
  const a = 1.75;
  saxpy.launch(stream, { grid: Math.ceil(n / 256), block: 256 }, dout, dx, dy, a, n);
  device.copy(stream, hout, dout);
  await stream.synchronize();
  const out = hout.view(Float32Array);
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const ref = Math.fround(Math.fround(Math.fround(a) * x[i]!) + y[i]!);
    if (Math.abs(out[i]! - ref) > 1e-6 * Math.max(1, Math.abs(ref))) bad++;
  }
  assert.equal(bad, 0, `${bad} of ${n} elements differ`);
});

test('registered host memory and offsets: copies land where asked', { skip }, async () => {
  const host = Buffer.alloc(1 << 20);
  for (let i = 0; i < host.length; i++) host[i] = i & 0xff;
  using reg = device.registerHost(host, 'registered');
  using dev = device.allocDevice(1 << 20, 'dev');
  using back = device.allocPinned(4096, 'back');
  using stream = device.createStream();
  device.memset(stream, dev, 0xee);
  device.copy(stream, dev, reg, { bytes: 1000, srcOffset: 5, dstOffset: 100 });
  device.copy(stream, back, dev, { bytes: 4096 });
  await stream.synchronize();
  assert.equal(back.bytes[99], 0xee);
  for (let i = 0; i < 1000; i++) assert.equal(back.bytes[100 + i], (i + 5) & 0xff);
  assert.equal(back.bytes[1100], 0xee);
  assert.equal(reg.bytes.buffer, host.buffer, 'zero-copy view of the caller’s memory');
});

test('NVRTC compile error → NvrtcError with the log', { skip }, () => {
  assert.throws(
    () => device.compile('extern "C" __global__ void broken() { undefined_thing = 1; }', { name: 'broken.cu' }),
    (e: Error) => {
      assert.ok(e instanceof NvrtcError, String(e));
      assert.match(e.log, /broken\.cu\(1\).*error.*undefined_thing/);
      assert.match(e.message, /NVRTC_ERROR_COMPILATION/);
      return true;
    },
  );
});

test('the second compile of the same source comes from the disk cache', { skip }, () => {
  const src = 'extern "C" __global__ void cached_kernel(unsigned int *p) { p[0] = 7; }';
  using a = device.compile(src, { kernels: { cached_kernel: ['pointer'] } });
  using b = device.compile(src, { kernels: { cached_kernel: ['pointer'] } });
  assert.equal(a.cached, false);
  assert.equal(b.cached, true);
  assert.throws(() => b.getKernel('missing', []), /CUDA_ERROR_NOT_FOUND.*declare it extern "C"/);
});

test('event timing and stream ordering across two streams', { skip }, async () => {
  using program = device.compile(SOURCE, { kernels: KERNELS, name: 'foundation.cu' });
  const spin = program.getKernel('spin');
  const inc = program.getKernel('inc');
  using a = device.createStream({ label: 'a' });
  using b = device.createStream({ label: 'b' });
  using flag = device.allocDevice(4, 'flag');
  using out = device.allocDevice(4, 'out');
  using host = device.allocPinned(4, 'host');
  using start = device.createEvent({ timing: true, label: 'start' });
  using end = device.createEvent({ timing: true, label: 'end' });
  using ready = device.createEvent({ label: 'ready' });
  device.memset(a, flag, 0);
  start.record(a);
  spin.launch(a, { grid: 1, block: 1 }, 20_000_000n, flag, 41); // 20 ms, then flag = 41
  end.record(a);
  ready.record(a);
  b.waitEvent(ready);
  inc.launch(b, { grid: 1, block: 1 }, out, flag); // must see 41
  device.copy(b, host, out);
  assert.equal(ready.isDone(), false, 'the 20 ms kernel is still running');
  await b.synchronize();
  assert.equal(host.view(Uint32Array)[0], 42, 'stream b waited for stream a');
  await end.completion();
  assert.ok(end.isDone());
  await end.completion(); // already complete: resolves at once
  const ms = end.elapsedMs(start);
  assert.ok(ms >= 19 && ms < 200, `elapsed ${ms} ms for a 20 ms spin`);
  assert.throws(() => ready.elapsedMs(start), /elapsedMs needs two timing events; create 'ready'/);
});

test('completion() resolves without blocking the event loop', { skip }, async () => {
  await using dev = await open(0);
  using program = dev.compile(SOURCE, { kernels: KERNELS, name: 'foundation.cu' });
  using s = dev.createStream();
  using ev = dev.createEvent();
  program.getKernel('spin').launch(s, { grid: 1, block: 1 }, 300_000_000n, 0n, 0); // 300 ms
  ev.record(s);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  const t0 = performance.now();
  await ev.completion();
  const waited = performance.now() - t0;
  clearInterval(timer);
  assert.ok(waited >= 250, `waited ${waited.toFixed(1)} ms`);
  assert.ok(ticks >= 15, `the loop kept ticking: ${ticks} ticks of 10 ms in ${waited.toFixed(0)} ms`);
  // Several at once, on different streams, complete in their own order.
  using s2 = dev.createStream();
  using long = dev.createEvent();
  using short = dev.createEvent();
  program.getKernel('spin').launch(s, { grid: 1, block: 1 }, 100_000_000n, 0n, 0);
  long.record(s);
  program.getKernel('spin').launch(s2, { grid: 1, block: 1 }, 1_000_000n, 0n, 0);
  short.record(s2);
  const order: string[] = [];
  await Promise.all([
    long.completion().then(() => order.push('long')),
    short.completion().then(() => order.push('short')),
  ]);
  assert.deepEqual(order, ['short', 'long']);
  // whenComplete(): the callback form, once per wait; reused for the next wait on the event;
  // a second wait at the same time still completes; synchronous once done; closed → onError.
  const calls: string[] = [];
  const waited2 = (e: typeof ev) => new Promise<void>((resolve, reject) => e.whenComplete(resolve, reject));
  for (let round = 0; round < 3; round++) {
    program.getKernel('spin').launch(s, { grid: 1, block: 1 }, 20_000_000n, 0n, 0); // 20 ms
    ev.record(s);
    assert.equal(ev.isDone(), false);
    await Promise.all([
      waited2(ev).then(() => calls.push(`a${round}`)),
      waited2(ev).then(() => calls.push(`b${round}`)),
    ]);
    assert.ok(ev.isDone());
  }
  assert.deepEqual(calls.sort(), ['a0', 'a1', 'a2', 'b0', 'b1', 'b2']);
  let now = false;
  ev.whenComplete(
    () => (now = true),
    () => {},
  );
  assert.equal(now, true, 'already complete: called back at once');
  {
    const closed = dev.createEvent({ label: 'gone' });
    closed.close();
    const err = await new Promise<unknown>((resolve) => closed.whenComplete(() => resolve(null), resolve));
    assert.ok(err instanceof UsageError && /Event 'gone' was closed/.test(err.message));
  }
  {
    // Waiting must leave libuv's thread pool to fs: a read finishes while 8 kernels are awaited.
    const streams = Array.from({ length: 8 }, () => dev.createStream());
    const events = streams.map((st) => {
      program.getKernel('spin').launch(st, { grid: 1, block: 1 }, 300_000_000n, 0n, 0);
      const e = dev.createEvent();
      e.record(st);
      return e;
    });
    const all = Promise.all(events.map((e) => e.completion())).then(() => 'gpu');
    const first = await Promise.race([readFile(new URL(import.meta.url)).then(() => 'fs'), all]);
    await all;
    assert.equal(first, 'fs', 'an fs read completed while the kernels were awaited');
    for (const x of [...events, ...streams]) x.close();
  }
});

test('closing twice is harmless; use after close is a clear error', { skip }, async () => {
  const stream = device.createStream({ label: 'copy' });
  const ev = device.createEvent({ label: 'done' });
  const buf = device.allocDevice(1024, 'slot0');
  const pinned = device.allocPinned(1024, 'pin0');
  const program = device.compile(SOURCE, { kernels: KERNELS, name: 'foundation.cu' });
  const inc = program.getKernel('inc');
  for (const r of [stream, ev, buf, pinned, program]) {
    r.close();
    r.close();
    assert.equal(r.closed, true);
  }
  const other = device.createStream({ label: 'other' });
  const usage = (f: () => unknown, message: string) =>
    assert.throws(f, (e: Error) => e instanceof UsageError && e.message.includes(message), message);
  usage(() => device.copy(stream, pinned, buf), 'copy');
  usage(() => ev.record(other), "Event 'done' was closed; create a new one with device.createEvent()");
  usage(() => other.waitEvent(ev), "Event 'done' was closed");
  usage(() => device.memset(stream, buf, 0), "Stream 'copy' was closed; create a new one with device.createStream()");
  usage(() => buf.ptr, "DeviceBuffer 'slot0' was closed; allocate a new one with device.allocDevice()");
  usage(() => pinned.bytes, "PinnedBuffer 'pin0' was closed");
  usage(() => inc.launch(other, { grid: 1, block: 1 }, 0n, 0n), "Program 'foundation.cu' was closed");
  await assert.rejects(ev.completion(), /Event 'done' was closed/);
  await assert.rejects(stream.synchronize(), /Stream 'copy' was closed/);
  other.close();
  // Launch-time validation reaches the caller before the driver.
  using p2 = device.compile(SOURCE, { kernels: KERNELS, name: 'foundation.cu' });
  using s = device.createStream();
  using d = device.allocDevice(16);
  usage(
    () => p2.getKernel('inc').launch(s, { grid: 1, block: [32, 64] }, d, d),
    'has 2048 threads; this device allows 1024 per block',
  );
  usage(
    () => p2.getKernel('inc').launch(s, { grid: 1, block: 1 }, d),
    "kernel 'inc' takes 2 arguments (pointer, pointer); got 1",
  );

  const dev2 = await open(0);
  const s2 = dev2.createStream({ label: 'late' });
  dev2.close();
  dev2.close();
  assert.equal(s2.closed, true, 'device.close() closes its children');
  usage(() => dev2.createStream(), "Device '0' was closed");
});

test('a device fault rejects pending completions instead of hanging (runs last)', { skip }, async () => {
  using program = device.compile(SOURCE, { kernels: KERNELS, name: 'foundation.cu' });
  using s = device.createStream();
  using ev = device.createEvent();
  program.getKernel('spin').launch(s, { grid: 1, block: 1 }, 50_000_000n, 0n, 0);
  program.getKernel('poke').launch(s, { grid: 1, block: 1 }, 0x10n); // illegal address
  ev.record(s);
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error('completion() hung after a device fault')), 10_000).unref(),
  );
  await assert.rejects(
    Promise.race([ev.completion(), timeout]),
    (e: Error) => e instanceof CudaError && e.sticky && /CUDA_ERROR_ILLEGAL_ADDRESS/.test(e.message),
  );
  device.close();
  rmSync(cache, { recursive: true, force: true });
});
