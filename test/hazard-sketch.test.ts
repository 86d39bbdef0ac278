// The PyTorch sketch of the reference page, transcribed as written (no barrier 1, no barrier 3),
// on the fake device: the checker reports both races, and the data really is corrupted; with the
// two barriers added back the checker is silent and every chunk arrives intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checked } from '../src/check/index.js';
import { runSketch, type SketchOptions } from '../src/check/sketch.js';
import { FakeDevice } from '../src/testing/index.js';
import type { Device } from '../src/pipeline/device.js';

const BYTES = 4096;
const CHUNKS = 24;

/** Compute takes half the copy's time: the case where the missing barrier 1 bites. */
function fakeDevice(): FakeDevice {
  const fake = new FakeDevice({ copyCostMs: () => 1 });
  fake.defineKernel(
    'decode',
    ['pointer', 'u32'],
    (_c, out, n) =>
      new Uint32Array((out as Uint8Array).buffer, (out as Uint8Array).byteOffset, BYTES / 4).fill(Number(n) + 1),
    0.5,
  );
  return fake;
}

function sketch(device: Device, corrupted: number[], barriers?: SketchOptions['barriers']): SketchOptions {
  const decode = device.compile('', { kernels: { decode: ['pointer', 'u32'] } }).getKernel('decode');
  return {
    chunks: CHUNKS,
    outputBytes: BYTES,
    barriers,
    decode: (stream, out, n) => decode.launch(stream, { grid: 1, block: 256, writes: [out], chunk: n }, out, n),
    worker: async (data, n) => {
      const words = new Uint32Array(data.buffer, data.byteOffset, BYTES / 4);
      if (!words.every((w) => w === n + 1)) corrupted.push(n);
      // "write to disk": a host stage that takes real time, as the sketch's worker thread does.
      await new Promise((r) => setTimeout(r, 2));
    },
  };
}

test('the sketch as written: the checker reports the missing barriers 1 and 3', async () => {
  const fake = fakeDevice();
  const dev = checked(fake, { onHazard: 'collect' });
  const corrupted: number[] = [];
  await runSketch(dev, sketch(dev, corrupted));
  const barriers = new Set(dev.hazards.map((h) => h.barrier));
  for (const h of dev.hazards.slice(0, 3)) console.error(`  ${h.message}`);
  console.error(
    `  ${dev.hazards.length} hazards (barriers ${[...barriers].join(', ')}), ${corrupted.length}/${CHUNKS} chunks corrupted`,
  );
  assert.ok(barriers.has(1), 'barrier 1 (compute waits for the D2H of n−2) is reported');
  assert.ok(barriers.has(3), 'barrier 3 (D2H only after the host released the slot) is reported');
  const b1 = dev.hazards.find((h) => h.barrier === 1)!;
  assert.match(b1.buffer, /^vram_buf\[[01]\]$/);
  assert.match(
    b1.message,
    /compute\(\d+\) \[kernel 'decode' on stream 'compute'\] writes it while D2H\(\d+\) \[stream 'copy'\] may still read it/,
  );
  const b3 = dev.hazards.find((h) => h.barrier === 3)!;
  assert.match(b3.buffer, /^host_buf\[[01]\]$/);
  assert.match(b3.message, /the host stage released chunk \d+ of this slot \(barrier 3\)/);
  assert.deepEqual(fake.liveResources(), {
    streams: 0,
    events: 0,
    deviceBuffers: 0,
    pinnedBuffers: 0,
    deviceBytes: 0,
    pinnedBytes: 0,
  });
});

test('the sketch as written really corrupts chunks when compute is faster than the copy (unchecked)', async () => {
  const fake = fakeDevice();
  const corrupted: number[] = [];
  await runSketch(fake, sketch(fake, corrupted));
  console.error(`  sketch as written: ${corrupted.length}/${CHUNKS} chunks corrupted`);
  assert.ok(corrupted.length > 0, 'a missing barrier shows up as wrong bytes on the fake device');
});

test('the sketch with barriers 1 and 3 added: no hazard, every chunk intact', async () => {
  const fake = fakeDevice();
  const dev = checked(fake, { onHazard: 'collect' });
  const corrupted: number[] = [];
  await runSketch(dev, sketch(dev, corrupted, { computeWaitsOnCopy: true, hostRelease: true }));
  assert.deepEqual(
    dev.hazards.map((h) => h.message),
    [],
  );
  assert.deepEqual(corrupted, []);
});

test('barrier 1 alone is not enough: the free-running launcher still overwrites host_buf under the worker (barrier 3 reported)', async () => {
  const fake = fakeDevice();
  const dev = checked(fake, { onHazard: 'collect' });
  const corrupted: number[] = [];
  await runSketch(dev, sketch(dev, corrupted, { computeWaitsOnCopy: true }));
  assert.deepEqual([...new Set(dev.hazards.map((h) => h.barrier))], [3]);
});
