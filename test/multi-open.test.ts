// Which devices a multi-device run uses: 'all', a count or ordinals, from the library option and
// from --devices; errors say what to change. Without a driver, opening fails with the driver's
// own message (this machine); with one, 'all' opens and closes every device.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { driverAvailable } from '../src/core/open.js';
import { UsageError } from '../src/util/errors.js';
import {
  closeDevices,
  createMultiPipeline,
  openDevices,
  openMultiPipeline,
  parseDevicesSpec,
  resolveDevicesSpec,
} from '../src/pipeline/multi.js';
import { FakeDevice } from '../src/testing/index.js';

test('parseDevicesSpec: all, a count, a list, a single ordinal with a trailing comma', () => {
  assert.equal(parseDevicesSpec('all'), 'all');
  assert.equal(parseDevicesSpec(' 2 '), 2);
  assert.deepEqual(parseDevicesSpec('0,2,3'), [0, 2, 3]);
  assert.deepEqual(parseDevicesSpec('1,'), [1]);
  for (const bad of ['', 'gpu0', '-1', '0,,x', '1.5', 'al'])
    assert.throws(() => parseDevicesSpec(bad), /--devices takes 'all', a count/);
});

test('resolveDevicesSpec: checks counts and ordinals against the devices present', () => {
  assert.deepEqual(resolveDevicesSpec('all', 4), [0, 1, 2, 3]);
  assert.deepEqual(resolveDevicesSpec(2, 4), [0, 1]);
  assert.deepEqual(resolveDevicesSpec([3, 1], 4), [3, 1]);
  assert.throws(() => resolveDevicesSpec('all', 0), /no CUDA device is visible/);
  assert.throws(() => resolveDevicesSpec(5, 4), /5 asked but 4 visible/);
  assert.throws(() => resolveDevicesSpec(0, 4), /positive integer/);
  assert.throws(() => resolveDevicesSpec([4], 4), /ordinal 4 is out of range \(4 visible: 0..3\)/);
  assert.throws(
    () => resolveDevicesSpec([1, 1], 4),
    /listed twice; to run two pipelines on one GPU pass the same Device twice/,
  );
  assert.throws(() => resolveDevicesSpec([], 4), UsageError);
});

test('createMultiPipeline validates devices and options', () => {
  const fake = new FakeDevice();
  const compute = () => {};
  assert.throws(() => createMultiPipeline([], { outputBytes: 8, compute }), /non-empty array of devices/);
  assert.throws(() => createMultiPipeline([{} as never], { outputBytes: 8, compute }), /devices\[0\] is not a Device/);
  assert.throws(
    () => createMultiPipeline([fake], { outputBytes: 0, compute }),
    /outputBytes must be a positive integer/,
  );
  assert.throws(() => createMultiPipeline([fake], { outputBytes: 8, depth: 17, compute }), /depth must be 1..16/);
  assert.throws(
    () => createMultiPipeline([fake], { outputBytes: 8, lookahead: 0, compute }),
    /lookahead must be a positive integer or 'ring'/,
  );
  assert.throws(
    () => createMultiPipeline([fake], { outputBytes: 8, keepRing: true, compute } as never),
    /keepRing is not an option/,
  );
  assert.throws(
    () => createMultiPipeline([fake], { outputBytes: 8, depth: 2, deviceSlots: 3, compute }),
    /deviceSlots \(3\) cannot exceed depth \(2\)/,
  );
  assert.throws(
    () => createMultiPipeline([fake], { outputBytes: 8, sink: 3 as never, compute }),
    /sink must be a function/,
  );
  assert.throws(() => createMultiPipeline([fake], { outputBytes: 8 } as never), /compute\(chunk\) is required/);
  const closed = new FakeDevice({ ordinal: 3 });
  closed.close();
  assert.throws(
    () => createMultiPipeline([fake, closed], { outputBytes: 8, compute }),
    /devices\[1\] \(ordinal 3\) is closed/,
  );
});

test('bad inputs are refused before any device allocates', async () => {
  const fake = new FakeDevice();
  const pipe = createMultiPipeline([fake, fake], { outputBytes: 8, compute: () => {} });
  await assert.rejects(pipe.run(-1), /input count must be a non-negative integer/);
  await assert.rejects(pipe.run({} as never), /inputs must be a count, an iterable or an async iterable/);
  assert.equal(fake.liveResources().streams, 0);
});

test('closeDevices closes each device once, even when listed twice', () => {
  const a = new FakeDevice();
  const b = new FakeDevice();
  closeDevices([a, b, a]);
  assert.ok(a.closed && b.closed);
});

const avail = driverAvailable();
test(
  'openDevices / openMultiPipeline without a driver: the driver error, nothing left open',
  { skip: avail.ok ? 'a driver is present (covered by test/gpu/multi.test.ts)' : false },
  async () => {
    await assert.rejects(openDevices('all'), (e: Error) => e.name === 'LibraryNotFoundError' || e.name === 'CudaError');
    await assert.rejects(
      openMultiPipeline([0], { outputBytes: 8, compute: () => {} }),
      (e: Error) => e.name === 'LibraryNotFoundError' || e.name === 'CudaError',
    );
  },
);
