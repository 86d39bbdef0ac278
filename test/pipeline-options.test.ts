// Options and arguments are checked before a run allocates anything: each bad value throws a
// UsageError that names the option and what to change, and the fake device's live resources stay
// at zero. Limits the platform imposes (Node's 2^31 - 1 ms timers) are part of the check.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../src/cuda/errors.js';
import { createPipeline } from '../src/pipeline/index.js';
import { createMultiPipeline } from '../src/pipeline/multi.js';
import { assertNoLeaks, rig, watchUnhandled } from './pipeline-helpers.js';

const checkUnhandled = watchUnhandled();
const OUT = 32;
const slowSink = () => new Promise<void>((r) => setTimeout(r, 15));

test('sinkTimeoutMs: Infinity and 2^31 - 1 set no early timer; 2^31 and above are refused up front', async () => {
  const { fake, compute } = rig(1, OUT);
  for (const sinkTimeoutMs of [Infinity, 2 ** 31 - 1]) {
    const stats = await createPipeline(fake, {
      outputBytes: OUT,
      depth: 2,
      compute,
      sink: slowSink,
      sinkTimeoutMs,
    }).run(3);
    assert.equal(stats.chunks, 3, `sinkTimeoutMs ${sinkTimeoutMs}`);
  }
  for (const sinkTimeoutMs of [2 ** 31, 1e12, Number.MAX_VALUE, -Infinity, NaN, '100' as never]) {
    assert.throws(
      () => createPipeline(fake, { outputBytes: OUT, compute, sink: slowSink, sinkTimeoutMs }),
      (e: unknown) =>
        e instanceof UsageError && /sinkTimeoutMs must be .*2147483647.*or Infinity for no limit/.test(e.message),
      String(sinkTimeoutMs),
    );
  }
  assertNoLeaks(fake);
});

test('sinkTimeoutMs on the multi-device pipeline: the same limits', async () => {
  const rigs = [rig(2, OUT, 1, { ordinal: 0 }), rig(3, OUT, 1, { ordinal: 1 })];
  const devices = rigs.map((r) => r.fake);
  const compute = (c: { deviceIndex: number } & Parameters<(typeof rigs)[0]['compute']>[0]) =>
    rigs[c.deviceIndex]!.compute(c);
  const stats = await createMultiPipeline(devices, {
    outputBytes: OUT,
    depth: 2,
    compute,
    sink: slowSink,
    sinkTimeoutMs: Infinity,
  }).run(4);
  assert.equal(stats.chunks, 4);
  assert.throws(
    () => createMultiPipeline(devices, { outputBytes: OUT, compute, sinkTimeoutMs: 2 ** 31 }),
    /sinkTimeoutMs must be/,
  );
  for (const f of devices) assertNoLeaks(f);
});

test('no unhandled rejections', async () => {
  await new Promise((r) => setTimeout(r, 50));
  checkUnhandled();
});
