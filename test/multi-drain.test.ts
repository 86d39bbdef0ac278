// Drain: runs of 0, 1, N−1, N, N+1 chunks (N devices) and around N × lookahead (every device's
// slots full) deliver every chunk in order and free everything; and the case that could
// deadlock — one device holding all its slots for chunks that wait on another device — does not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMultiPipeline, type MultiComputeChunk } from '../src/pipeline/multi.js';
import { assertNoLeaks, rig, tick, watchUnhandled } from './pipeline-helpers.js';

const checkUnhandled = watchUnhandled();
const OUT = 32;

function cluster(n: number, seed: number) {
  const rigs = Array.from({ length: n }, (_, d) => rig(seed * 10 + d, OUT, 1, { ordinal: d }));
  return { rigs, devices: rigs.map((r) => r.fake) };
}

for (const n of [2, 3]) {
  for (const [mode, depth, lookahead] of [
    ['overlap', 2, undefined],
    ['overlap', 3, 1],
    ['overlap', 'auto', undefined],
    ['serial', 1, undefined],
  ] as const) {
    const la = lookahead ?? (mode === 'serial' ? 2 : depth === 'auto' ? 2 * 2 + 1 : depth + 1);
    const counts = [...new Set([0, 1, n - 1, n, n + 1, n * la - 1, n * la, n * la + 1])].sort((a, b) => a - b);
    test(`${n} devices, ${mode} depth ${depth}, lookahead ${lookahead ?? 'default'}: drains ${counts.join(', ')} chunks`, async () => {
      const { rigs, devices } = cluster(n, counts.length + n);
      for (const count of counts) {
        const order: number[] = [];
        const pipe = createMultiPipeline(devices, {
          outputBytes: OUT,
          depth,
          mode,
          lookahead,
          compute: (c) => rigs[c.deviceIndex]!.compute(c),
          sink: async (c) => {
            assert.ok(Buffer.from(c.data).equals(Buffer.from(rigs[0]!.reference(c.index))));
            order.push(c.index);
            await tick();
          },
        });
        const stats = await pipe.run(count);
        assert.deepEqual(
          order,
          Array.from({ length: count }, (_, k) => k),
          `${count} chunks`,
        );
        assert.equal(stats.chunks, count);
        assert.equal(
          stats.perDevice.reduce((a, d) => a + d.chunks, 0),
          count,
        );
        for (const r of rigs) assertNoLeaks(r.fake, `after ${count} chunks`);
      }
    });
  }
}

for (const lookahead of [1, 3, 'ring'] as const) {
  test(`no deadlock when a device fills all its slots waiting for another device's chunk (lookahead ${lookahead})`, async () => {
    const { rigs, devices } = cluster(2, 40);
    // Chunk 0 (on whichever device takes it) stalls for many host turns; the other device runs
    // ahead until its ring and lookahead are full of chunks that must wait for chunk 0.
    let heldBehind = 0;
    const order: number[] = [];
    const compute = async (c: MultiComputeChunk<unknown>) => {
      if (c.index === 0) for (let k = 0; k < 200; k++) await tick();
      rigs[c.deviceIndex]!.compute(c);
    };
    const stats = await createMultiPipeline(devices, {
      outputBytes: OUT,
      depth: 2,
      lookahead,
      compute,
      sink: (c) => {
        if (c.index > 0 && order.length === 0) heldBehind++;
        order.push(c.index);
      },
    }).run(200);
    assert.deepEqual(
      order,
      Array.from({ length: 200 }, (_, k) => k),
    );
    assert.equal(heldBehind, 0);
    // The other device filled everything it may hold with chunks that waited for chunk 0.
    const full = lookahead === 'ring' ? 2 : lookahead;
    assert.ok(stats.reorder.maxHeld >= full, `held ${stats.reorder.maxHeld} behind chunk 0`);
    for (const r of rigs) assertNoLeaks(r.fake);
  });
}

test('lookahead bounds what a device holds: at most lookahead chunks of one device wait at once', async () => {
  const { rigs, devices } = cluster(2, 50);
  let maxHeld = 0;
  const stats = await createMultiPipeline(devices, {
    outputBytes: OUT,
    depth: 4,
    lookahead: 2,
    compute: async (c) => {
      if (c.deviceIndex === 0) for (let k = 0; k < 5; k++) await tick();
      rigs[c.deviceIndex]!.compute(c);
    },
  }).run(300);
  maxHeld = stats.reorder.maxHeld;
  // Each device holds at most its lookahead (2), the chunk whose turn it is included.
  assert.ok(maxHeld <= 2 * 2, `held ${maxHeld}`);
  assert.ok(maxHeld >= 2, `held ${maxHeld}: the fast device did run ahead of the slow one`);
  assert.equal(stats.lookahead, 2);
  for (const r of rigs) assertNoLeaks(r.fake);
});

test('no unhandled rejections', async () => {
  await new Promise((r) => setTimeout(r, 50));
  checkUnhandled();
});
