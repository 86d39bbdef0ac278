// The hazard checker on the fake device: each of docs/design.md's five barriers, left out, is
// reported with the buffer, both operations and the barrier; put back, nothing is reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checked, HazardError } from '../src/check/index.js';
import { FakeDevice } from '../src/testing/index.js';

function setup() {
  const fake = new FakeDevice();
  fake.defineKernel('fill', ['pointer', 'u32'], (_ctx, out, v) => (out as Uint8Array).fill(Number(v)), 0.5);
  fake.defineKernel(
    'add',
    ['pointer', 'pointer'],
    (_ctx, dst, src) => {
      const d = dst as Uint8Array;
      const s = src as Uint8Array;
      for (let k = 0; k < d.length; k++) d[k] = (d[k]! + s[k]!) & 255;
    },
    0.5,
  );
  const dev = checked(fake);
  const compute = dev.createStream({ label: 'compute' });
  const copy = dev.createStream({ label: 'copy' });
  const upload = dev.createStream({ label: 'upload' });
  const prog = dev.compile('', { kernels: { fill: ['pointer', 'u32'], add: ['pointer', 'pointer'] } });
  const fill = prog.getKernel('fill');
  const add = prog.getKernel('add');
  return { fake, dev, compute, copy, upload, fill, add };
}

const launch1 = { grid: 1, block: 32 };

test('barrier 2 missing: D2H reads before compute is known done', () => {
  const { dev, compute, copy, fill } = setup();
  const out = dev.allocDevice(64, 'output[0]');
  const pinned = dev.allocPinned(64, 'pinned[0]');
  fill.launch(compute, { ...launch1, chunk: 7 }, out, 1);
  assert.throws(() => dev.copy(copy, pinned, out, { chunk: 7 }), HazardError);
  const h = dev.hazards[0]!;
  assert.equal(h.barrier, 2);
  assert.equal(h.buffer, 'output[0]');
  assert.equal(h.hazard, 'read-after-write');
  assert.match(
    h.message,
    /D2H\(7\) \[stream 'copy'\] reads it before compute\(7\) \[kernel 'fill' on stream 'compute'\]/,
  );
  assert.match(h.message, /make the copy stream 'copy' wait on it before the D2H \(barrier 2\)/);
});

test('barrier 2 present: an event recorded after the kernel and waited on by the copy stream', async () => {
  const { dev, compute, copy, fill } = setup();
  const out = dev.allocDevice(64, 'output[0]');
  const pinned = dev.allocPinned(64, 'pinned[0]');
  const computed = dev.createEvent();
  const copied = dev.createEvent();
  fill.launch(compute, launch1, out, 9);
  computed.record(compute);
  copy.waitEvent(computed);
  dev.copy(copy, pinned, out);
  copied.record(copy);
  await copied.completion();
  dev.hostAccess(pinned, 'read', 'sink takes chunk 0');
  assert.equal(pinned.bytes[63], 9);
  assert.deepEqual(dev.hazards, []);
});

test('barrier 1 missing: compute(n) overwrites device[i] while D2H(n - depth) may still read it', () => {
  const { dev, compute, copy, fill } = setup();
  const out = dev.allocDevice(64, 'device[0]');
  const pinned = [dev.allocPinned(64, 'pinned[0]'), dev.allocPinned(64, 'pinned[1]')];
  const computed = dev.createEvent();
  fill.launch(compute, { ...launch1, chunk: 0 }, out, 1);
  computed.record(compute);
  copy.waitEvent(computed);
  dev.copy(copy, pinned[0]!, out, { chunk: 0 });
  assert.throws(
    () => fill.launch(compute, { ...launch1, chunk: 1 }, out, 2),
    (e: unknown) => {
      assert.ok(e instanceof HazardError);
      assert.equal(e.barrier, 1);
      assert.equal(e.hazard, 'write-after-read');
      assert.match(
        e.message,
        /compute\(1\) \[kernel 'fill' on stream 'compute'\] writes it while D2H\(0\) \[stream 'copy'\] may still read it/,
      );
      assert.match(
        e.message,
        /record an event on stream 'copy' after the copy and make stream 'compute' wait on it before writing \(barrier 1\)/,
      );
      return true;
    },
  );
});

test('barrier 1 present: compute waits on the copy event; no hazard, data intact', async () => {
  const { dev, compute, copy, fill } = setup();
  const out = dev.allocDevice(64, 'device[0]');
  const pinned = [dev.allocPinned(64, 'pinned[0]'), dev.allocPinned(64, 'pinned[1]')];
  const computed = dev.createEvent();
  const copied = dev.createEvent();
  for (let n = 0; n < 2; n++) {
    if (n > 0) compute.waitEvent(copied);
    fill.launch(compute, launch1, out, n + 1);
    computed.record(compute);
    copy.waitEvent(computed);
    dev.copy(copy, pinned[n]!, out);
    copied.record(copy);
  }
  await dev.synchronize();
  dev.hostAccess(pinned[0]!, 'read');
  dev.hostAccess(pinned[1]!, 'read');
  assert.equal(pinned[0]!.bytes[0], 1);
  assert.equal(pinned[1]!.bytes[0], 2);
  assert.deepEqual(dev.hazards, []);
});

test('barrier 4 missing: the host reads pinned memory before the D2H is known complete', async () => {
  const { dev, compute, copy, fill } = setup();
  const out = dev.allocDevice(64, 'device[0]');
  const pinned = dev.allocPinned(64, 'pinned[0]');
  const computed = dev.createEvent();
  fill.launch(compute, launch1, out, 3);
  computed.record(compute);
  copy.waitEvent(computed);
  dev.copy(copy, pinned, out, { chunk: 4 });
  assert.throws(
    () => dev.hostAccess(pinned, 'read', 'sink takes chunk 4'),
    /the host for chunk 4 \('sink takes chunk 4'\) reads it before D2H\(4\) \[stream 'copy'\].*\(barrier 4\)/,
  );
  // Awaiting the stream orders it.
  dev.clearHazards();
  await copy.synchronize();
  dev.hostAccess(pinned, 'read', 'sink takes chunk 4');
  assert.deepEqual(dev.hazards, []);
});

test('barrier 3 missing: the next D2H into a slot before the host released it is reported', async () => {
  const { dev, compute, copy, fill } = setup();
  const out = dev.allocDevice(64, 'device[0]');
  const pinned = dev.allocPinned(64, 'pinned[0]');
  const computed = dev.createEvent();
  const copied = dev.createEvent();
  // chunk 0 reaches the host...
  fill.launch(compute, launch1, out, 1);
  computed.record(compute);
  copy.waitEvent(computed);
  dev.copy(copy, pinned, out, { chunk: 0 });
  copied.record(copy);
  await copied.completion();
  dev.hostAccess(pinned, 'read', 'sink takes chunk 0');
  // ...and while the sink still works on it, chunk 2's D2H is enqueued into the same slot.
  compute.waitEvent(copied);
  fill.launch(compute, launch1, out, 2);
  computed.record(compute);
  copy.waitEvent(computed);
  dev.copy(copy, pinned, out, { chunk: 2 });
  assert.throws(
    () => dev.hostAccess(pinned, 'read', 'sink releases chunk 0'),
    (e: unknown) => {
      assert.ok(e instanceof HazardError);
      assert.equal(e.barrier, 3);
      assert.equal(e.buffer, 'pinned[0]');
      assert.match(
        e.message,
        /enqueue D2H\(2\) \[stream 'copy'\] only after the host stage released chunk 0 of this slot \(barrier 3\)/,
      );
      return true;
    },
  );
});

test('a slot overwritten before the host read it is reported even when every access is ordered', async () => {
  const { dev, compute, copy, fill } = setup();
  const out = dev.allocDevice(64, 'device[0]');
  const pinned = dev.allocPinned(64, 'pinned[0]');
  const ev = dev.createEvent();
  for (const n of [0, 2]) {
    fill.launch(compute, launch1, out, n);
    ev.record(compute);
    copy.waitEvent(ev);
    dev.copy(copy, pinned, out, { chunk: n });
    ev.record(copy);
    compute.waitEvent(ev);
  }
  await ev.completion();
  assert.throws(
    () => dev.hostAccess(pinned, 'read', 'worker takes chunk 0'),
    (e: unknown) => {
      assert.ok(e instanceof HazardError);
      assert.equal(e.hazard, 'overwritten-before-read');
      assert.equal(e.barrier, 3);
      assert.match(e.message, /reads chunk 0, but D2H\(2\) \[stream 'copy'\] already overwrote it with chunk 2/);
      return true;
    },
  );
});

test('barrier 5 missing: compute reads the input before the upload is known done, and the next upload overwrites it', () => {
  const { dev, compute, upload, add } = setup();
  const input = dev.allocDevice(64, 'input[0]');
  const out = dev.allocDevice(64, 'output[0]');
  const staging = dev.allocPinned(64, 'staging[0]');
  dev.hostAccess(staging, 'write', 'fill chunk 0');
  dev.copy(upload, input, staging, { chunk: 0 });
  assert.throws(
    () => add.launch(compute, { ...launch1, reads: [input], writes: [out] }, out, input),
    /H2D\(0\) \[stream 'upload'\].*\(barrier 5\)/,
  );

  const d2 = setup();
  const in2 = d2.dev.allocDevice(64, 'input[0]');
  const out2 = d2.dev.allocDevice(64, 'output[0]');
  const st2 = d2.dev.allocPinned(64, 'staging[0]');
  const uploaded = d2.dev.createEvent();
  d2.dev.copy(d2.upload, in2, st2);
  uploaded.record(d2.upload);
  d2.compute.waitEvent(uploaded);
  d2.add.launch(d2.compute, { ...launch1, reads: [in2], writes: [out2] }, out2, in2);
  assert.throws(
    () => d2.dev.copy(d2.upload, in2, st2, { chunk: 2 }),
    new RegExp(
      String.raw`H2D\(2\) \[stream 'upload'\] writes it while compute \[kernel 'add' on stream 'compute'\] may still read it` +
        String.raw`.*make the upload stream 'upload' wait on it.*\(barrier 5\)`,
    ),
  );
});

test('the host refilling a staging slot before its upload completed is reported', () => {
  const { dev, upload } = setup();
  const input = dev.allocDevice(64, 'input[0]');
  const staging = dev.allocPinned(64, 'staging[0]');
  dev.hostAccess(staging, 'write', 'fill chunk 0');
  dev.copy(upload, input, staging, { chunk: 0 });
  assert.throws(
    () => dev.hostAccess(staging, 'write', 'fill chunk 2'),
    /the host for chunk 2 .* writes it while H2D\(0\) \[stream 'upload'\] may still read it.*barrier 5, host side/,
  );
});

test('reads and writes marks: two kernels that only read a buffer do not race; unmarked they do', () => {
  const { dev, compute, copy, add } = setup();
  const lut = dev.allocDevice(64, 'lut');
  const a = dev.allocDevice(64, 'a');
  const b = dev.allocDevice(64, 'b');
  add.launch(compute, { ...launch1, reads: [lut], writes: [a] }, a, lut);
  add.launch(copy, { ...launch1, reads: [lut], writes: [b] }, b, lut);
  assert.deepEqual(dev.hazards, []);
  assert.throws(() => add.launch(copy, launch1, b, lut), /hazard on device buffer 'lut' \(write-after-read\)/);
});

test('byte ranges: copies into disjoint halves from two streams do not race, overlapping ones do', () => {
  const { dev, compute, copy } = setup();
  const a = dev.allocDevice(64, 'a');
  const b = dev.allocDevice(64, 'b');
  const pinned = dev.allocPinned(64, 'p');
  dev.copy(compute, pinned, a, { bytes: 32, srcOffset: 0, dstOffset: 0 });
  dev.copy(copy, pinned, b, { bytes: 32, srcOffset: 32, dstOffset: 32 });
  assert.deepEqual(dev.hazards, []);
  assert.throws(
    () => dev.copy(copy, pinned, b, { bytes: 8, srcOffset: 0, dstOffset: 28 }),
    /pinned buffer 'p' \(write-after-write\)/,
  );
});

test('device.synchronize() and isDone() order everything before for the host', async () => {
  const { dev, compute, copy, fill } = setup();
  const out = dev.allocDevice(64, 'o');
  const p = dev.allocPinned(64, 'p');
  const ev = dev.createEvent();
  fill.launch(compute, launch1, out, 5);
  ev.record(compute);
  copy.waitEvent(ev);
  dev.copy(copy, p, out);
  await dev.synchronize();
  dev.hostAccess(p, 'read');
  // A new copy, then poll isDone() on an event after it.
  const done = dev.createEvent();
  dev.copy(copy, p, out);
  done.record(copy);
  await copy.synchronize();
  assert.equal(done.isDone(), true);
  dev.hostAccess(p, 'write');
  assert.deepEqual(dev.hazards, []);
});

test("'collect' mode records every hazard and lets the work go ahead; throw mode stops the racing op before the device", async () => {
  const fake = new FakeDevice();
  fake.defineKernel('fill', ['pointer', 'u32'], (_c, o, v) => (o as Uint8Array).fill(Number(v)), 1);
  const seen: HazardError[] = [];
  const dev = checked(fake, { onHazard: (h) => seen.push(h) });
  const s1 = dev.createStream({ label: 's1' });
  const s2 = dev.createStream({ label: 's2' });
  const k = dev.compile('').getKernel('fill');
  const buf = dev.allocDevice(16, 'shared');
  k.launch(s1, launch1, buf, 1);
  k.launch(s2, launch1, buf, 2);
  assert.equal(seen.length, 1);
  assert.equal(dev.hazards.length, 1);
  assert.equal(seen[0]!.hazard, 'write-after-write');
  await dev.synchronize();

  const strict = checked(fake);
  const t1 = strict.createStream({ label: 't1' });
  const t2 = strict.createStream({ label: 't2' });
  const k2 = strict.compile('').getKernel('fill');
  const b2 = strict.allocDevice(16, 'b2');
  const p2 = strict.allocPinned(16, 'p2');
  k2.launch(t1, launch1, b2, 7);
  assert.throws(() => strict.copy(t2, p2, b2), HazardError);
  await strict.synchronize();
  assert.equal(p2.bytes[0], 0, 'the racing copy never reached the device');
});

test('the checked device is a Device: wrappers close idempotently, memory accounting and errors pass through', () => {
  const fake = new FakeDevice({ totalMemory: 1024 });
  const dev = checked(fake);
  const before = fake.liveResources();
  const s = dev.createStream({ label: 'x' });
  const e = dev.createEvent({ label: 'ev' });
  const b = dev.allocDevice(100, 'buf');
  const p = dev.allocPinned(100, 'pin');
  assert.equal(dev.memoryInfo().free, 924);
  assert.equal(b.device, dev);
  assert.equal(s.label, 'x');
  assert.equal(p.bytes.length, 100);
  assert.throws(() => dev.allocDevice(4096, 'too big'), /CUDA_ERROR_OUT_OF_MEMORY/);
  for (const r of [s, e, b, p]) {
    r.close();
    r.close();
    assert.equal(r.closed, true);
  }
  assert.deepEqual(fake.liveResources(), before);
  assert.throws(() => dev.copy(s, p, b), /closed|after close/);
});

test('device.synchronize() also orders the work of streams closed before it', async () => {
  const { dev, fill } = setup();
  const side = dev.createStream({ label: 'side' });
  const out = dev.allocDevice(64, 'o');
  const p = dev.allocPinned(64, 'p');
  fill.launch(side, launch1, out, 3);
  dev.copy(side, p, out);
  side.close();
  assert.throws(() => dev.hostAccess(p, 'read', 'too early'), /barrier 4/);
  dev.clearHazards();
  await dev.synchronize();
  dev.hostAccess(p, 'read', 'after synchronize');
  assert.equal(p.bytes[0], 3);
  assert.deepEqual(dev.hazards, []);
});
