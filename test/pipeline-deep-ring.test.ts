// Deep rings and the 'auto' start: the ring sizes 'auto' starts from, the jitter allowance in
// chooseDepth, the pump's stage queue (Fifo), and runs at depths 8 and 16
// (barrier 1 a GPU-side wait at every depth) under the hazard checker with uploads, slow
// sinks and random copy times: every chunk in order, exactly once, intact, no hazard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checked } from '../src/check/index.js';
import { autoStartSize, chooseDepth, chunkPeriodMs } from '../src/pipeline/auto-depth.js';
import { Fifo } from '../src/pipeline/async-tools.js';
import { createPipeline } from '../src/pipeline/index.js';
import { FakeDevice } from '../src/testing/index.js';
import { mulberry32 as prng } from '../src/util/prng.js';

const MiB = 1024 ** 2;

test(
  'autoStartSize: what was decided before, else what the pool holds, else double buffering; ' +
    'within 2..16, the chunks, and new device slots in half the free memory',
  () => {
    const free = 80 * 1024 ** 3;
    const none = { pinned: 0, device: 0 };
    // A cold pool pins no more than double buffering, however small the slots.
    assert.deepEqual(autoStartSize(64 * MiB, free, null, none), { depth: 2, deviceSlots: 2 });
    assert.deepEqual(autoStartSize(256 * 1024, free, null, none), { depth: 2, deviceSlots: 2 });
    assert.deepEqual(autoStartSize(1 * MiB, free, null, { pinned: 1, device: 0 }), { depth: 2, deviceSlots: 2 });
    // Buffers the pool holds ready start the ring, each half from its own kind.
    assert.deepEqual(autoStartSize(1 * MiB, free, null, { pinned: 16, device: 3 }), { depth: 16, deviceSlots: 3 });
    assert.deepEqual(autoStartSize(1 * MiB, free, null, { pinned: 40, device: 40 }), { depth: 16, deviceSlots: 16 });
    assert.deepEqual(autoStartSize(1 * MiB, free, 5, { pinned: 16, device: 16 }), { depth: 5, deviceSlots: 5 });
    assert.deepEqual(autoStartSize(1 * MiB, free, 0, { pinned: 16, device: 16 }), { depth: 2, deviceSlots: 2 });
    // Buffers ready in the pool take no free memory; only the device slots beyond them must fit
    // in half of it, and free memory is asked only then.
    const asked = (bytes: number) => {
      const f = () => (f.calls++, bytes);
      f.calls = 0;
      return f;
    };
    const plenty = asked(6 * MiB);
    assert.deepEqual(autoStartSize(1 * MiB, plenty, null, { pinned: 16, device: 16 }), { depth: 16, deviceSlots: 16 });
    assert.equal(plenty.calls, 0);
    const short = asked(6 * MiB);
    const remembered = { depth: 16, deviceSlots: 16 };
    assert.deepEqual(autoStartSize(1 * MiB, short, null, { pinned: 16, device: 2 }, remembered), {
      depth: 16,
      deviceSlots: 5,
    });
    assert.equal(short.calls, 1);
    // What an earlier run decided wins over the pool, either way.
    const decided = { depth: 6, deviceSlots: 3 };
    assert.deepEqual(autoStartSize(1 * MiB, free, null, none, decided), decided);
    assert.deepEqual(autoStartSize(1 * MiB, free, null, { pinned: 16, device: 16 }, decided), decided);
    assert.deepEqual(autoStartSize(1 * MiB, free, 4, none, decided), { depth: 4, deviceSlots: 3 });
  },
);

test('chunkPeriodMs: the bottleneck once the ring hides a slot turnaround, the turnaround over the slots before', () => {
  // Copy-bound 4 MiB chunks with 1 ms of jitter allowance: 16 host slots, 3 device slots.
  const c = chooseDepth([{ upload: 0, compute: 0.048, copy: 0.08, sink: 0, wake: 0.003 }], 4 * MiB, 1e12, 1);
  assert.equal(chunkPeriodMs(c, c.depth, c.deviceSlots), 0.08);
  assert.ok(Math.abs(chunkPeriodMs(c, 2, 2) - (0.048 + 0.08 + 0.003 + 1) / 2) < 1e-9);
  assert.ok(
    chunkPeriodMs(c, 2, 2) > chunkPeriodMs(c, 8, 2) && chunkPeriodMs(c, 8, 2) > chunkPeriodMs(c, 16, 3) - 1e-12,
  );
});

test('chooseDepth: a jitter allowance asks for more slots when stages are short, hardly any when long', () => {
  const s = (compute: number, copy: number) => [{ upload: 0, compute, copy, sink: 0, wake: 0.005 }];
  const short = s(0.02, 0.02);
  const long = s(2, 1);
  assert.ok(chooseDepth(short, MiB, 1e12, 0.5).depth > chooseDepth(short, MiB, 1e12).depth);
  assert.equal(chooseDepth(short, MiB, 1e12, 0.5).depth, 16); // capped
  assert.equal(chooseDepth(long, MiB, 1e12, 0.5).depth, chooseDepth(long, MiB, 1e12).depth);
  assert.match(chooseDepth(short, MiB, 1e12, 0.5).reason, /\+ 0\.50 ms for host jitter/);
  assert.equal(chooseDepth(long, MiB, 1e12).bottleneckMs, 2);
});

test('chooseDepth: the host ring covers host jitter, the device ring only the GPU-side cycle', () => {
  const s = (compute: number, copy: number, wake = 0.003, upload = 0) => [{ upload, compute, copy, sink: 0, wake }];
  // 4 MiB on an H100, copy-bound: 1 ms of host jitter asks for 16 pinned slots, the GPU for 3.
  const four = chooseDepth(s(0.048, 0.08), 4 * MiB, 1e12, 1);
  assert.equal(four.depth, 16);
  assert.equal(four.deviceSlots, 3);
  assert.match(four.reason, /^auto depth 16, 3 on the device: /);
  assert.match(four.reason, /the GPU-side cycle \(compute \+ copy\) takes 0\.13 ms, ceil\(1\.60\) \+ 1 spare = 3/);
  assert.match(four.reason, /the host still enqueues copies 16 chunks ahead/);
  // 64 MiB: a few of each.
  const big = chooseDepth(s(0.61, 1.23, 0.032), 64 * MiB, 1e12, 1);
  assert.deepEqual([big.depth, big.deviceSlots], [4, 3]);
  const balanced = chooseDepth(s(1.23, 1.22, 0.032), 64 * MiB, 1e12, 1);
  assert.deepEqual([balanced.depth, balanced.deviceSlots], [4, 3]);
  // Without a jitter allowance the two rings are the same size when nothing but the GPU turns slots around.
  const same = chooseDepth(s(1.23, 1.22, 0), 64 * MiB, 1e12, 0);
  assert.deepEqual([same.depth, same.deviceSlots], [3, 3]);
  assert.doesNotMatch(same.reason, /fewer device buffers/);
  // An upload is part of the GPU-side cycle.
  const up = chooseDepth(s(0.05, 0.08, 0.003, 0.08), 4 * MiB, 1e12, 1, 4 * MiB);
  assert.equal(up.deviceSlots, 4);
  assert.match(up.reason, /upload \+ compute \+ copy/);
  // Device slots never exceed the host ring.
  for (const c of [s(0.001, 0.5), s(0.5, 0.001), s(0.2, 0.2, 0.5)]) {
    const x = chooseDepth(c, MiB, 1e12, 1);
    assert.ok(x.deviceSlots <= x.depth && x.deviceSlots >= 2, JSON.stringify(x));
  }
});

test('Fifo: first in, first out across compaction; peek does not take; empty gives undefined', () => {
  const q = new Fifo<number>();
  assert.equal(q.peek(), undefined);
  assert.equal(q.shift(), undefined);
  let next = 0;
  let want = 0;
  // Interleave pushes and shifts past the compaction threshold, with the queue never empty.
  for (let round = 0; round < 3000; round++) {
    q.push(next++);
    q.push(next++);
    assert.equal(q.peek(), want);
    assert.equal(q.shift(), want++);
  }
  assert.equal(q.size, next - want);
  while (q.size > 0) assert.equal(q.shift(), want++);
  assert.equal(want, next);
  assert.equal(q.shift(), undefined);
  q.push(7);
  assert.equal(q.size, 1);
  assert.equal(q.shift(), 7);
});

const OUT = 512;
const IN = 64;

for (const depth of [8, 16]) {
  for (const uploads of [false, true]) {
    test(
      `depth ${depth}, uploads ${uploads ? 'on' : 'off'}: in order, exactly once, intact, no hazard, all released`,
      { timeout: 60_000 },
      async () => {
        const rnd = prng(depth * 7 + (uploads ? 1 : 0));
        const fake = new FakeDevice({ copyCostMs: () => 0.01 + rnd() * 0.2 });
        fake.defineKernel(
          'k',
          ['pointer', 'pointer', 'u32', 'u32'],
          (_c, out, inp, n, hasIn) => {
            const o = out as Uint8Array;
            const i = inp as Uint8Array;
            for (let k = 0; k < o.length; k++) o[k] = ((hasIn ? i[k % IN]! : 3) + (n as number) * 5 + k) & 255;
          },
          () => 0.01 + rnd() * 0.2,
        );
        const dev = checked(fake);
        const base = fake.liveResources();
        const kernel = dev.compile('', { kernels: { k: ['pointer', 'pointer', 'u32', 'u32'] } }).getKernel('k');
        const seen: number[] = [];
        const bad: number[] = [];
        const chunks = 300;
        const pipe = createPipeline<number>(dev, {
          outputBytes: OUT,
          inputBytes: uploads ? IN : undefined,
          depth,
          sinkConcurrency: 3,
          compute: (c) =>
            kernel.launch(
              c.stream,
              { grid: 1, block: 32, reads: c.input ? [c.input] : [], writes: [c.output] },
              c.output,
              c.input ?? c.output,
              c.index,
              uploads ? 1 : 0,
            ),
          sink: async (c) => {
            seen.push(c.index);
            for (let k = 0; k < OUT; k++) {
              if (c.data[k] !== (((uploads ? c.index & 255 : 3) + c.index * 5 + k) & 255)) {
                bad.push(c.index);
                break;
              }
            }
            if (rnd() < 0.2) await new Promise((r) => setTimeout(r, rnd() * 2));
          },
        });
        const inputs = uploads
          ? Array.from(
              { length: chunks },
              (_, n) => ((staging: Uint8Array) => void staging.fill(n & 255)) as unknown as number,
            )
          : chunks;
        const stats = await pipe.run(inputs as never);
        pipe.close();
        assert.equal(stats.chunks, chunks);
        assert.equal(stats.depth, depth);
        assert.deepEqual(
          dev.hazards.map((h) => h.message),
          [],
        );
        assert.deepEqual(bad, []);
        assert.deepEqual(
          seen,
          Array.from({ length: chunks }, (_, k) => k),
        );
        dev.pool.trim();
        assert.deepEqual(fake.liveResources(), base);
      },
    );
  }
}
