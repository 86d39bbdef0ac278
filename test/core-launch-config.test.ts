import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS, normalizeDim, normalizeLaunch } from '../src/core/launch-config.js';
import { UsageError } from '../src/util/errors.js';

test('numbers and 1–3 dimensions become [x, y, z]', () => {
  assert.deepEqual(normalizeDim(256, 'block'), [256, 1, 1]);
  assert.deepEqual(normalizeDim([256], 'block'), [256, 1, 1]);
  assert.deepEqual(normalizeDim([16, 8], 'block'), [16, 8, 1]);
  assert.deepEqual(normalizeDim([4, 4, 4], 'grid'), [4, 4, 4]);
  assert.deepEqual(normalizeLaunch(1000, [32, 8], undefined), {
    grid: [1000, 1, 1],
    block: [32, 8, 1],
    sharedMemBytes: 0,
  });
});

test('non-positive, fractional and badly shaped dimensions say what to change', () => {
  const usage = (f: () => unknown, re: RegExp) =>
    assert.throws(f, (e: Error) => e instanceof UsageError && re.test(e.message));
  usage(() => normalizeDim(0, 'grid'), /grid\.x must be a positive integer; got 0 \(round the chunk size up/);
  usage(() => normalizeDim([16, 2.5], 'block'), /block\.y must be a positive integer; got 2\.5/);
  usage(() => normalizeDim([] as never, 'block'), /block must be a number or 1 to 3 dimensions/);
  usage(() => normalizeDim([1, 1, 1, 1] as never, 'grid'), /grid must be a number or 1 to 3 dimensions/);
  usage(() => normalizeDim(Number.NaN, 'grid'), /grid\.x must be a positive integer; got null/);
});

test('block limits: total threads and per-axis', () => {
  assert.throws(
    () => normalizeLaunch(1, [32, 64], 0),
    /block \[32, 64, 1\] has 2048 threads; this device allows 1024 per block/,
  );
  assert.throws(() => normalizeLaunch(1, [1, 1, 65], 0), /block\.z = 65 exceeds this device's limit of 64/);
  assert.deepEqual(normalizeLaunch(1, 1024, 0).block, [1024, 1, 1]);
});

test('grid limits: x up to 2^31-1, y and z up to 65535', () => {
  assert.deepEqual(normalizeLaunch(2 ** 31 - 1, 1, 0).grid, [2 ** 31 - 1, 1, 1]);
  assert.throws(
    () => normalizeLaunch(2 ** 31, 1, 0),
    /grid\.x = 2147483648 exceeds this device's limit of 2147483647; use larger blocks/,
  );
  assert.throws(() => normalizeLaunch([1, 65536], 1, 0), /grid\.y = 65536 exceeds/);
  assert.throws(() => normalizeLaunch([1, 1, 65536], 1, 0), /grid\.z = 65536 exceeds/);
});

test('shared memory up to the device limit', () => {
  assert.equal(normalizeLaunch(1, 1, 48 * 1024).sharedMemBytes, 48 * 1024);
  assert.throws(
    () => normalizeLaunch(1, 1, 48 * 1024 + 1),
    /sharedMemBytes = 48 KiB exceeds the 48 KiB a block may use/,
  );
  assert.throws(() => normalizeLaunch(1, 1, -1), /sharedMemBytes must be a non-negative integer; got -1/);
  const small = { ...DEFAULT_LIMITS, maxSharedMemPerBlock: 1024, maxThreadsPerBlock: 256 };
  assert.throws(() => normalizeLaunch(1, 2048 / 8, 2048, small), /sharedMemBytes = 2 KiB exceeds the 1 KiB/);
  assert.throws(() => normalizeLaunch(1, 512, 0, small), /this device allows 256 per block/);
});
