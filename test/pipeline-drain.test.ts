// End of input drains cleanly for 0, 1, depth - 1, depth, depth + 1 and many chunks, in both
// modes and both styles, with every resource released afterwards.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPipeline } from '../src/pipeline/index.js';
import { assertNoLeaks, rig, tick, watchUnhandled } from './pipeline-helpers.js';

const checkUnhandled = watchUnhandled();
const OUT = 32;

for (const depth of [1, 2, 3, 4, 6]) {
  const counts = [...new Set([0, 1, depth - 1, depth, depth + 1, 2 * depth + 1, 97])].filter((c) => c >= 0);
  for (const mode of ['overlap', 'serial'] as const) {
    test(`drain: depth ${depth} ${mode}, counts ${counts.join(', ')}`, async () => {
      const { fake, compute, reference } = rig(depth * 7 + (mode === 'serial' ? 1 : 0), OUT);
      for (const count of counts) {
        const seen: number[] = [];
        const pipe = createPipeline(fake, {
          outputBytes: OUT,
          depth,
          mode,
          compute,
          async sink(c) {
            assert.deepEqual(c.data, reference(c.index));
            if (c.index % 3 === 0) await tick();
            seen.push(c.index);
          },
        });
        const stats = await pipe.run(count);
        assert.deepEqual(
          seen,
          Array.from({ length: count }, (_, k) => k),
          `count ${count}`,
        );
        assert.equal(stats.chunks, count);
        assertNoLeaks(fake, `count ${count}`);
        // Pull style, the same counts.
        const pulled: number[] = [];
        for await (const c of pipe.chunks(count)) {
          assert.deepEqual(c.data, reference(c.index));
          pulled.push(c.index);
          c.release();
        }
        assert.deepEqual(pulled, seen);
        assertNoLeaks(fake, `pull, count ${count}`);
      }
    });
  }
}

test('an iterable of items and an async iterable drain the same way', async () => {
  const { fake, compute } = rig(5, OUT);
  const items = ['a', 'b', 'c', 'd', 'e'];
  const got: string[] = [];
  const pipe = createPipeline<string>(fake, {
    outputBytes: OUT,
    depth: 2,
    compute,
    sink: (c) => void got.push(c.item),
  });
  await pipe.run(items);
  await pipe.run(
    (async function* () {
      yield* items;
    })(),
  );
  assert.deepEqual(got, [...items, ...items]);
  assertNoLeaks(fake);
});

test('no unhandled rejections', () => checkUnhandled());
