// What a multi-device run reports: totals and shares that add up, and the bottleneck verdict —
// the sink, PCIe (D2H on every device), compute, one slow device, or nothing that stands out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { bottleneckOf, createMultiPipeline, type DeviceShare } from '../src/pipeline/multi.js';
import type { PipelineStats } from '../src/pipeline/index.js';
import { assertNoLeaks, rig } from './pipeline-helpers.js';

function share(d: number, o: Partial<DeviceShare>): DeviceShare {
  return {
    deviceIndex: d,
    ordinal: d,
    name: `gpu ${d}`,
    chunks: 100,
    share: 0.5,
    stats: {} as PipelineStats,
    wallMs: 1000,
    efficiency: null,
    gpuBusyFraction: null,
    busiestStage: null,
    waitedOnMs: 0,
    waitedForSlotMs: 0,
    ...o,
  };
}

test('bottleneckOf: sink, input, PCIe, compute, one slow device, nothing', () => {
  const two = (a: Partial<DeviceShare>, b: Partial<DeviceShare>) => [share(0, a), share(1, b)];
  assert.equal(bottleneckOf(two({}, {}), 0.95, 0, 1000, 200).stage, 'sink');
  assert.match(bottleneckOf(two({}, {}), 0.95, 0, 1000, 200).reason, /sink was busy 95\.0%/);
  assert.equal(bottleneckOf(two({}, {}), 0.2, 0.93, 1000, 200).stage, 'input');
  const pcie = bottleneckOf(
    two({ gpuBusyFraction: 0.97, busiestStage: 'copy' }, { gpuBusyFraction: 0.95, busiestStage: 'copy' }),
    0.3,
    0,
    1000,
    200,
  );
  assert.equal(pcie.stage, 'copy');
  assert.match(pcie.reason, /PCIe-bound/);
  assert.equal(
    bottleneckOf(
      two({ gpuBusyFraction: 0.99, busiestStage: 'compute' }, { gpuBusyFraction: 0.98, busiestStage: 'compute' }),
      0.3,
      0,
      1000,
      200,
    ).stage,
    'compute',
  );
  const slow = bottleneckOf(
    two({ gpuBusyFraction: 0.99, busiestStage: 'compute' }, { gpuBusyFraction: 0.4, busiestStage: 'compute' }),
    0.3,
    0,
    1000,
    200,
  );
  assert.deepEqual([slow.stage, slow.device], ['device', 0]);
  const waited = bottleneckOf(
    two({ chunks: 50, share: 0.25, waitedOnMs: 600 }, { chunks: 150, share: 0.75, waitedOnMs: 100 }),
    0.3,
    0,
    1000,
    200,
  );
  assert.deepEqual([waited.stage, waited.device], ['device', 0]);
  // Equal devices taking turns: the output always waits on the next one, which blames nobody.
  assert.equal(
    bottleneckOf(two({ chunks: 100, waitedOnMs: 900 }, { chunks: 100, waitedOnMs: 10 }), 0.3, 0, 1000, 200).stage,
    null,
  );
  // More total wait on the device that delivered more chunks is not a verdict against it.
  assert.equal(
    bottleneckOf(two({ chunks: 150, waitedOnMs: 300 }, { chunks: 50, waitedOnMs: 100 }), 0.3, 0, 1000, 200).stage,
    null,
  );
  assert.match(bottleneckOf(two({}, {}), 0.3, 0, 1000, 200).reason, /run with trace: true/);
  assert.equal(bottleneckOf(two({}, {}), 0, 0, 0, 0).reason, 'no chunks ran');
});

test('a slow sink on fast devices is named the bottleneck; totals add up', async () => {
  const rigs = [rig(1, 64, 1, { ordinal: 0 }), rig(2, 64, 1, { ordinal: 1 })];
  const pipe = createMultiPipeline(
    rigs.map((r) => r.fake),
    {
      outputBytes: 64,
      depth: 4,
      compute: (c) => rigs[c.deviceIndex]!.compute(c),
      // Long enough that the start-up (before chunk 0 arrives) is a small part of the wall time;
      // the devices stay far ahead of the sink after that.
      sink: () => sleep(20),
    },
  );
  // The wall time counts from the run's start, so it includes the first chunk's way through the
  // pipeline: in a fresh process on a loaded machine that took 40-100 ms (code not yet compiled),
  // a third of the run. A short run first leaves the measured one the steady state it is about.
  await pipe.run(3);
  const stats = await pipe.run(40);
  assert.equal(
    stats.bottleneck.stage,
    'sink',
    `${stats.bottleneck.reason}; sink busy ${stats.sink.busyMs} of ${stats.wallMs} ms`,
  );
  assert.ok(stats.sink.busyFraction > 0.9 && stats.sink.busyFraction <= 1);
  assert.equal(stats.devices, 2);
  assert.equal(stats.chunks, 40);
  assert.equal(stats.bytesOut, 40 * 64);
  assert.equal(stats.perDevice[0]!.chunks + stats.perDevice[1]!.chunks, 40);
  assert.ok(stats.wallMs >= stats.sink.busyMs);
  assert.ok(Math.abs(stats.chunksPerSecond - 40 / (stats.wallMs / 1000)) < 1e-6);
  for (const r of rigs) assertNoLeaks(r.fake);
});
