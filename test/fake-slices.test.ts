// The fake device's sliced JS kernels (a generator kernel runs between event-loop turns, and its
// launch ends in virtual time only after its last slice) and its 'virtual' clock (real time never
// enters: the same calls give the same times however slow the host is).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeDevice, type FakeClockMode } from '../src/testing/index.js';

/** Busy-waits `ms` of real time (a slow host between calls). */
function spin(ms: number): void {
  const t = performance.now();
  while (performance.now() - t < ms);
}

test('a generator kernel runs in slices: timers fire while it runs, its bytes are all there at its end', async () => {
  const fake = new FakeDevice();
  const rows = 64;
  fake.defineKernel(
    'slow_rows',
    ['pointer'],
    function* (_ctx, out) {
      const o = out as Uint8Array;
      for (let y = 0; y < rows; y++) {
        spin(2);
        o[y] = y + 1;
        yield;
      }
    },
    5,
  );
  const k = fake.compile('').getKernel('slow_rows');
  const s = fake.createStream();
  const buf = fake.allocDevice(rows);
  const host = fake.allocPinned(rows);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    k.launch(s, { grid: 1, block: 1 }, buf);
    fake.copy(s, host, buf);
    await s.synchronize();
  } finally {
    clearInterval(timer);
  }
  assert.ok(ticks > 0, 'a timer ran while the kernel ran');
  assert.deepEqual(
    [...host.bytes],
    Array.from({ length: rows }, (_, y) => y + 1),
  );
  fake.close();
});

test('abandonKernels(): a sliced kernel stops at its next slice and later launches skip their JS', async () => {
  const fake = new FakeDevice();
  let rowsRun = 0;
  fake.defineKernel('endless', [], function* () {
    for (;;) {
      rowsRun++;
      spin(1);
      yield;
    }
  });
  const k = fake.compile('').getKernel('endless');
  const s = fake.createStream();
  k.launch(s, { grid: 1, block: 1 });
  k.launch(s, { grid: 1, block: 1 });
  setTimeout(() => fake.abandonKernels(), 30);
  await s.synchronize();
  assert.ok(rowsRun > 0);
  fake.close();
});

async function timesOf(mode: FakeClockMode, hostDelayMs: number): Promise<number[]> {
  const fake = new FakeDevice({ clock: mode, copyBytesPerMs: 1e6 });
  fake.defineKernel('k', ['pointer'], () => spin(hostDelayMs), 0.5);
  const k = fake.compile('').getKernel('k');
  const compute = fake.createStream();
  const copy = fake.createStream();
  const buf = fake.allocDevice(4096);
  const host = fake.allocPinned(4096);
  const marks: number[] = [];
  for (let i = 0; i < 6; i++) {
    const done = fake.createEvent();
    k.launch(compute, { grid: 1, block: 1 }, buf);
    done.record(compute);
    copy.waitEvent(done);
    fake.copy(copy, host, buf);
    spin(hostDelayMs);
    await copy.synchronize();
    marks.push(fake.now);
  }
  fake.close();
  return marks;
}

test("'virtual' clock: the same calls give the same virtual times, however slow the host is", async () => {
  const quick = await timesOf('virtual', 0);
  const slow = await timesOf('virtual', 5);
  assert.deepEqual(slow, quick);
  // The default clock follows real time: the slow host shows in its virtual times.
  const real = await timesOf('realtime', 5);
  assert.ok(real[real.length - 1]! > quick[quick.length - 1]!, `${real} vs ${quick}`);
});
