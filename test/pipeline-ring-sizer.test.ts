// The 'auto' ring's start and its one resize, driven through RingSizer as the pump drives it
// (start, beforeChunk for every chunk it enqueues, sample for every chunk it releases), with
// set allocation costs: a cold pool starts at double buffering, the run grows only when the
// chunks it has left repay the stall, and what it decided is where the next run of the size
// starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RingSizer, type RingPool } from '../src/pipeline/ring-sizer.js';

const MiB = 1024 ** 2;
const FREE = 80 * 1024 ** 3;

/** A pool holding `ready` buffers of every kind and size. */
function pool(ready = 0): RingPool {
  return { ready: () => ready };
}

/**
 * An 'auto' run of `count` chunks (null: an iterable) of 4 MiB, copy-bound like an H100 (compute
 * 0.048 ms, copy 0.08 ms, wake-up 0.003 ms: it asks for 16 host slots and 3 device slots), with
 * pinning at 1.6 ms a slot; driven until the resize is decided and carried out. Returns the sizer
 * and the sizes `grow` was asked for beyond the ring's (a kept size is passed to it too, and
 * allocates nothing).
 */
function drive(p: RingPool | null, count: number | null, grow?: (depth: number, slots: number) => void) {
  const sizer = new RingSizer({ outputBytes: 4 * MiB, compute: () => undefined }, p);
  sizer.start(FREE, count);
  sizer.allocMsPerHostSlot = 1.6;
  sizer.allocMsPerDeviceSlot = 0.1;
  const grown: [number, number][] = [];
  const onGrow = (depth: number, slots: number) => {
    if (depth > sizer.depth || slots > sizer.deviceSlots) grown.push([depth, slots]);
    grow?.(depth, slots);
  };
  const start = { depth: sizer.depth, deviceSlots: sizer.deviceSlots };
  // The pump enqueues up to `depth` chunks ahead of the one it releases.
  let enqueued = 0;
  for (let released = 0; released < 12; released++) {
    while (enqueued < released + sizer.depth && (count === null || enqueued < count))
      sizer.beforeChunk(enqueued++, onGrow);
    let t = released * 10;
    const span = (ms: number): [number, number] => [t, (t += ms)];
    sizer.sample(released, { compute: span(0.048), copy: span(0.08) }, 0, 0.003, () => FREE);
  }
  return { sizer, grown, start };
}

/**
 * A run of `count` chunks that starts from an empty pool, whose pool then holds 20 slots of each
 * kind ready before the warm-up is timed (so growing costs nothing); driven past the resize.
 */
function startColdThenFill(count: number) {
  let ready = 0;
  const p: RingPool = { ready: () => ready };
  const sizer = new RingSizer({ outputBytes: 4 * MiB, compute: () => undefined }, p);
  sizer.start(FREE, count);
  assert.deepEqual([sizer.depth, sizer.deviceSlots], [2, 2]);
  ready = 20;
  sizer.allocMsPerHostSlot = 1.6;
  const grown: number[][] = [];
  const onGrow = (d: number, s: number) => (d > sizer.depth || s > sizer.deviceSlots) && grown.push([d, s]);
  for (let n = 0; n < 4; n++) sizer.beforeChunk(n, onGrow);
  for (let i = 1; i < 4; i++) sizer.sample(i, { compute: [0, 0.048], copy: [0.048, 0.128] }, 0, 0.003, () => FREE);
  for (let n = 4; n < 8; n++) sizer.beforeChunk(n, onGrow);
  return { sizer, grown, p };
}

test('a cold pool starts at double buffering; a short run does not pay to grow, the next run starts where it decided', () => {
  const p = pool(0);
  const { sizer, grown, start } = drive(p, 16);
  assert.deepEqual(start, { depth: 2, deviceSlots: 2 });
  assert.deepEqual(grown, []);
  assert.equal(sizer.depth, 2);
  assert.equal(sizer.deviceSlots, 2);
  const reason = sizer.finalReason(16)!;
  assert.match(reason, /^auto depth 2, 2 on the device: measured/);
  assert.match(reason, /not grown to 16 \(3 on the device\): allocating 15 more slots blocks the host for ~22\.5 ms/);
  assert.match(
    reason,
    /more than the 11 chunks left would save \(~5\.\d+ ms\); kept 2, and the next run of this size starts at 16/,
  );
  // The next run of the size on this pool starts at the ring the measurement asked for.
  const next = new RingSizer({ outputBytes: 4 * MiB, compute: () => undefined }, p);
  next.start(FREE, 16);
  assert.deepEqual([next.depth, next.deviceSlots], [16, 3]);
  // Another size, or another pool, still starts cold.
  const other = new RingSizer({ outputBytes: 8 * MiB, compute: () => undefined }, p);
  other.start(FREE, 16);
  assert.deepEqual([other.depth, other.deviceSlots], [2, 2]);
  const elsewhere = new RingSizer({ outputBytes: 4 * MiB, compute: () => undefined }, pool(0));
  elsewhere.start(FREE, 16);
  assert.deepEqual([elsewhere.depth, elsewhere.deviceSlots], [2, 2]);
});

test('a long run grows when its remaining chunks repay the stall; a run of unknown length grows', () => {
  const long = drive(pool(0), 2000);
  assert.deepEqual(long.grown, [[16, 3]]);
  assert.deepEqual([long.sizer.depth, long.sizer.deviceSlots], [16, 3]);
  assert.match(
    long.sizer.finalReason(2000)!,
    new RegExp(
      String.raw`; grown from 2 \(2 on the device\): allocating 15 more slots blocks the host for ~22\.5 ms ` +
        String.raw`\(~0\.080 ms of GPU work queued\), repaid by the 1995 chunks left`,
    ),
  );
  const stream = drive(pool(0), null);
  assert.deepEqual(stream.grown, [[16, 3]]);
  assert.match(stream.sizer.finalReason(12)!, /paid once in a run of unknown length/);
});

test('growing into buffers the pool holds ready is free, whatever the run length', () => {
  // The pool holds one buffer of each kind beyond the start: free growth only up to them...
  const some = drive(pool(1), 16);
  assert.deepEqual(some.start, { depth: 2, deviceSlots: 2 });
  assert.deepEqual(some.grown, []);
  // ...and with enough ready the growth costs nothing and happens even in a short run.
  const { sizer, grown } = startColdThenFill(16);
  assert.deepEqual(grown, [[16, 3]]);
  assert.doesNotMatch(sizer.finalReason(16)!, /grown from|not grown/);
});

test('a growth that fails keeps the run going at its size, and the next run does not start at the size that failed', () => {
  const p = pool(0);
  const failed = drive(p, 2000, () => {
    throw new Error('CUDA_ERROR_OUT_OF_MEMORY');
  });
  assert.deepEqual([failed.sizer.depth, failed.sizer.deviceSlots], [2, 2]);
  assert.match(
    failed.sizer.finalReason(2000)!,
    /growing failed \(CUDA_ERROR_OUT_OF_MEMORY\), kept 2 \(2 on the device\)/,
  );
  const next = new RingSizer({ outputBytes: 4 * MiB, compute: () => undefined }, p);
  next.start(FREE, 2000);
  assert.deepEqual([next.depth, next.deviceSlots], [2, 2]);
});

test('a fixed depth ignores the pool and what auto runs decided', () => {
  const p = pool(0);
  drive(p, 16);
  const fixed = new RingSizer({ outputBytes: 4 * MiB, compute: () => undefined, depth: 3 }, p);
  fixed.start(FREE, 16);
  assert.deepEqual([fixed.depth, fixed.deviceSlots, fixed.auto], [3, 3, false]);
  assert.equal(fixed.wantsTiming(1), false);
});

test('a run grows no deeper than its chunk count; the next, longer run of the size starts at the full choice', () => {
  const { sizer, grown, p } = startColdThenFill(12);
  assert.deepEqual(grown, [[12, 3]]);
  assert.match(sizer.finalReason(12)!, /^auto depth 12, 3 on the device: .*; capped at the run's 12 chunks/);
  const next = new RingSizer({ outputBytes: 4 * MiB, compute: () => undefined }, p);
  next.start(FREE, 100);
  assert.deepEqual([next.depth, next.deviceSlots], [16, 3]);
});
