// Pull style (pipeline.chunks()): the loop releases each chunk when it asks for the next one and
// when it ends, so a consumer that never calls release() still runs to the end; an explicit
// release() stays allowed and idempotent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPipeline } from '../src/pipeline/index.js';
import { assertNoLeaks, rig } from './pipeline-helpers.js';

const OUT = 4096;

for (const depth of [1, 2, 3]) {
  test(
    `pull style, depth ${depth}: a loop that never calls release() gets every chunk, in order, intact`,
    { timeout: 20_000 },
    async () => {
      const { fake, compute, reference } = rig(7, OUT);
      const pipe = createPipeline(fake, { outputBytes: OUT, depth, compute });
      const seen: number[] = [];
      for await (const c of pipe.chunks(20)) {
        assert.deepEqual(c.data, reference(c.index), `chunk ${c.index}`);
        seen.push(c.index);
      }
      assert.deepEqual(
        seen,
        Array.from({ length: 20 }, (_, k) => k),
      );
      pipe.close();
      assertNoLeaks(fake, `depth ${depth}`);
    },
  );
}

test('pull style: release() called early, twice, and then the loop advancing frees each slot once', async () => {
  const { fake, compute, reference } = rig(8, OUT);
  const pipe = createPipeline(fake, { outputBytes: OUT, depth: 2, compute });
  let n = 0;
  for await (const c of pipe.chunks(12)) {
    assert.deepEqual(c.data, reference(c.index));
    if (c.index % 2 === 0) {
      c.release();
      c.release();
    }
    n++;
  }
  assert.equal(n, 12);
  pipe.close();
  assertNoLeaks(fake, 'mixed release');
});

test(
  'pull style: leaving the loop early without release() frees the ring and the next run works',
  { timeout: 20_000 },
  async () => {
    const { fake, compute, reference } = rig(9, OUT);
    const pipe = createPipeline(fake, { outputBytes: OUT, depth: 1, compute });
    let n = 0;
    for await (const c of pipe.chunks(100)) {
      assert.equal(c.index, n);
      if (++n === 5) break;
    }
    const again: number[] = [];
    for await (const c of pipe.chunks(3)) {
      assert.deepEqual(c.data, reference(c.index));
      again.push(c.index);
    }
    assert.deepEqual(again, [0, 1, 2]);
    pipe.close();
    assertNoLeaks(fake, 'after break');
  },
);
