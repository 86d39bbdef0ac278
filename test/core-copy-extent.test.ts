import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyExtent } from '../src/core/device.js';
import { UsageError } from '../src/util/errors.js';

const buf = (kind: 'device' | 'pinned', byteLength: number, label: string, closed = false) => ({
  kind,
  byteLength,
  label,
  closed,
});

test('defaults: the whole source at offset 0', () => {
  assert.deepEqual(copyExtent(buf('pinned', 100, 'dst'), buf('device', 100, 'src'), {}), {
    bytes: 100,
    srcOffset: 0,
    dstOffset: 0,
  });
  assert.deepEqual(copyExtent(buf('pinned', 100, 'dst'), buf('device', 100, 'src'), { srcOffset: 40 }), {
    bytes: 60,
    srcOffset: 40,
    dstOffset: 0,
  });
});

test('a copy that does not fit says which side and what to pass', () => {
  const usage = (f: () => unknown, re: RegExp) =>
    assert.throws(f, (e: Error) => e instanceof UsageError && re.test(e.message));
  usage(
    () => copyExtent(buf('pinned', 1024, 'slot'), buf('device', 2048, 'out'), {}),
    /copy: 2 KiB at offset 0 does not fit destination 'slot' \(1 KiB\); pass \{ bytes \} to copy part of the source/,
  );
  usage(
    () => copyExtent(buf('pinned', 4096, 'slot'), buf('device', 2048, 'out'), { bytes: 1024, srcOffset: 1536 }),
    /runs past the end of source 'out' \(2 KiB\)/,
  );
  usage(
    () => copyExtent(buf('pinned', 4096, 'slot'), buf('device', 2048, 'out'), { dstOffset: -1 }),
    /dstOffset must be a non-negative integer; got -1/,
  );
  usage(
    () => copyExtent(buf('pinned', 4096, 'slot'), buf('device', 2048, 'out'), { bytes: 1.5 }),
    /bytes must be a non-negative integer/,
  );
  usage(
    () => copyExtent(buf('pinned', 4096, 'slot', true), buf('device', 2048, 'out'), {}),
    /PinnedBuffer 'slot' was closed/,
  );
  usage(
    () => copyExtent(buf('pinned', 4096, 'slot'), buf('device', 2048, 'out', true), {}),
    /DeviceBuffer 'out' was closed; allocate a new one/,
  );
});
