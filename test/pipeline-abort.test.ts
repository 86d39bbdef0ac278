// AbortSignal at random points, pipeline.close() mid-run, and pull-style early exits: the run
// stops within about a chunk, rejects with the signal's reason, and releases everything.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPipeline, PipelineError } from '../src/pipeline/index.js';
import { createMultiPipeline } from '../src/pipeline/multi.js';
import { createFakeDevice } from '../src/testing/index.js';
import type { DeviceBuffer, Stream } from '../src/core/types.js';
import { assertNoLeaks, inputBytesOf, prng, randomDelay, rig, tick, watchUnhandled } from './pipeline-helpers.js';

const checkUnhandled = watchUnhandled();
const OUT = 48;
const IN = 16;

test('abort at random points: rejects with the reason, stops within about a chunk, frees everything', async () => {
  const rand = prng(42);
  for (let trial = 0; trial < 60; trial++) {
    const { fake, compute, reference } = rig(trial, OUT);
    const depth = 1 + (trial % 6);
    const mode = trial % 5 === 0 ? 'serial' : 'overlap';
    const uploads = trial % 2 === 1;
    const stopAt = Math.floor(rand() * 40);
    const ac = new AbortController();
    const reason = new Error(`stop at ${stopAt}`);
    let after = 0;
    let aborted = false;
    const pipe = createPipeline<Uint8Array>(fake, {
      outputBytes: OUT,
      inputBytes: uploads ? IN : undefined,
      depth,
      mode,
      compute(c) {
        if (c.index === stopAt && rand() < 0.5) {
          ac.abort(reason);
          aborted = true;
        }
        compute(c);
      },
      async sink(c) {
        assert.deepEqual(c.data, reference(c.index, uploads ? c.item : undefined));
        if (aborted) after++;
        if (c.index === stopAt && !aborted) {
          ac.abort(reason);
          aborted = true;
        }
        await randomDelay(rand);
      },
    });
    const inputs = (async function* () {
      for (let n = 0; n < 200; n++) {
        await randomDelay(rand);
        yield inputBytesOf(n, IN);
      }
    })();
    const err = await pipe.run(inputs, { signal: ac.signal }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.equal(err, reason, `trial ${trial}: rejects with the signal's reason`);
    // Only chunks already in the host stage's hands may still finish after the abort.
    assert.ok(after <= 1, `trial ${trial}: ${after} chunks reached the sink after the abort`);
    assertNoLeaks(fake, `trial ${trial}`);
  }
});

test('an abort without a reason rejects with an AbortError; an aborted signal never starts', async () => {
  const { fake, compute } = rig(1, OUT);
  const pipe = createPipeline(fake, { outputBytes: OUT, depth: 2, compute, sink: () => tick().then(() => {}) });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 5);
  await assert.rejects(pipe.run(1e6, { signal: ac.signal }), { name: 'AbortError' });
  assertNoLeaks(fake);
  await assert.rejects(pipe.run(10, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  assertNoLeaks(fake);
});

test('close() during a run rejects it with an AbortError and refuses new runs', async () => {
  const { fake, compute } = rig(2, OUT);
  const pipe = createPipeline(fake, { outputBytes: OUT, depth: 3, compute, sink: () => tick().then(() => {}) });
  const running = pipe.run(1e6);
  await tick();
  pipe.close();
  pipe.close();
  await assert.rejects(running, { name: 'AbortError', message: /closed while running/ });
  await assert.rejects(pipe.run(1), /after close\(\)/);
  assertNoLeaks(fake);
});

test('pull style: breaking out early frees the ring; an error mid-iteration is thrown to the loop', async () => {
  const { fake, compute } = rig(3, OUT);
  const pipe = createPipeline(fake, { outputBytes: OUT, depth: 3, compute });
  let n = 0;
  for await (const c of pipe.chunks(1000)) {
    c.release();
    if (++n === 10) break;
  }
  assertNoLeaks(fake, 'after break');
  const failing = createPipeline(fake, {
    outputBytes: OUT,
    depth: 2,
    compute(c) {
      if (c.index === 7) throw new Error('bad chunk');
      compute(c);
    },
  });
  const got: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const c of failing.chunks(100)) {
        got.push(c.index);
        c.release();
      }
    })(),
    (e: unknown) => e instanceof PipelineError && e.stage === 'compute' && e.chunk === 7,
  );
  assert.deepEqual(
    got,
    got.map((_, k) => k),
  );
  assert.ok(got.length <= 7);
  assertNoLeaks(fake, 'after the error');
  const ac = new AbortController();
  await assert.rejects(
    (async () => {
      for await (const c of pipe.chunks(1000, { signal: ac.signal })) {
        c.release();
        if (c.index === 5) ac.abort();
      }
    })(),
    { name: 'AbortError' },
  );
  assertNoLeaks(fake, 'after the abort');
});

/** A promise the test settles when it chooses: a callback that is stuck until then. */
function stuck(): { promise: Promise<void>; settle: () => void } {
  let settle!: () => void;
  const promise = new Promise<void>((r) => (settle = r));
  return { promise, settle };
}

/** Waits for `f` to hold, a macrotask at a time (a freed resource is closed after a stream drains). */
async function eventually(f: () => boolean, what: string): Promise<void> {
  for (let k = 0; k < 1000 && !f(); k++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(f(), what);
}

/** What the run still holds: live resources once the pool has freed what runs handed back to it. */
function held(fake: ReturnType<typeof rig>['fake']) {
  fake.pool.trim();
  return fake.liveResources();
}

const freed = (fake: ReturnType<typeof rig>['fake']) => () => Object.values(held(fake)).every((v) => v === 0);

for (const how of ['abort', 'close'] as const) {
  test(`${how} while compute() never settles: the run rejects at once, the stuck slot is freed when it settles`, async () => {
    const { fake, compute } = rig(11, OUT);
    const hang = stuck();
    const ac = new AbortController();
    const reason = new Error('user stop');
    const pipe = createPipeline(fake, {
      outputBytes: OUT,
      depth: 3,
      compute: (c) => {
        compute(c);
        if (c.index !== 4) return;
        setTimeout(() => (how === 'abort' ? ac.abort(reason) : pipe.close()), 5);
        return hang.promise;
      },
    });
    const err = await pipe.run(100, { signal: ac.signal }).then(
      () => assert.fail('the run should have been stopped'),
      (e: unknown) => e as Error,
    );
    assert.equal(err.name, 'AbortError');
    if (how === 'abort') assert.equal(err.cause, reason);
    assert.match(
      err.message,
      /compute\(\) of chunk 4 holds device slot 1 and the compute stream; each is freed when its callback settles/,
    );
    // Held until the callback settles: the device slot (buffer, event) and the compute stream.
    const live = held(fake);
    assert.deepEqual([live.streams, live.deviceBuffers, live.events, live.pinnedBuffers], [1, 1, 1, 0]);
    hang.settle();
    await eventually(freed(fake), 'the held slot and stream are freed once compute() settles');
    assertNoLeaks(fake);
  });

  test(`${how} while a sink never settles: the run rejects at once, the slot is freed when the sink settles`, async () => {
    const { fake, compute } = rig(12, OUT);
    const hang = stuck();
    const ac = new AbortController();
    let intact = true;
    const pipe = createPipeline(fake, {
      outputBytes: OUT,
      depth: 2,
      compute,
      sink: (c) => {
        if (c.index !== 2) return;
        setTimeout(() => (how === 'abort' ? ac.abort() : pipe.close()), 5);
        return hang.promise.then(() => void (intact = !c.pinned.closed));
      },
    });
    const err = await pipe.run(100, { signal: ac.signal }).then(
      () => assert.fail('the run should have been stopped'),
      (e: unknown) => e as Error,
    );
    assert.equal(err.name, 'AbortError');
    assert.match(err.message, /the sink of chunk 2 holds pinned slot 0; each is freed when its callback settles/);
    assert.deepEqual(held(fake), {
      streams: 0,
      events: 0,
      deviceBuffers: 0,
      pinnedBuffers: 1,
      deviceBytes: 0,
      pinnedBytes: OUT,
    });
    hang.settle();
    await eventually(freed(fake), 'the pinned slot is freed once the sink settles');
    assert.ok(intact, 'the slot stayed open while the sink held it');
    assertNoLeaks(fake);
  });
}

test('abort while an async input fill never settles: the staging slot and streams are held until it does', async () => {
  const { fake, compute } = rig(13, OUT);
  const hang = stuck();
  const ac = new AbortController();
  const inputs = Array.from({ length: 50 }, (_, n) => async (staging: Uint8Array) => {
    if (n === 3) {
      setTimeout(() => ac.abort(), 5);
      await hang.promise;
    }
    staging.set(inputBytesOf(n, IN));
  });
  const pipe = createPipeline(fake, { outputBytes: OUT, inputBytes: IN, depth: 2, compute });
  const err = await pipe.run(inputs, { signal: ac.signal }).then(
    () => assert.fail('the run should have been stopped'),
    (e: unknown) => e as Error,
  );
  assert.equal(err.name, 'AbortError');
  assert.match(err.message, /the input fill of chunk 3 holds device slot 1 and the compute and upload streams/);
  const live = held(fake);
  // out, in, pinned staging, computed and uploaded events, the compute and upload streams.
  assert.deepEqual([live.streams, live.deviceBuffers, live.pinnedBuffers, live.events], [2, 2, 1, 2]);
  hang.settle();
  await eventually(freed(fake), 'freed once the fill settles');
  assertNoLeaks(fake);
});

test('multi-device: abort while one device compute() never settles ends the run; that device frees later', async () => {
  const rigs = [rig(14, OUT, 1, { ordinal: 0 }), rig(15, OUT, 1, { ordinal: 1 })];
  const hang = stuck();
  const ac = new AbortController();
  const reason = new Error('stop all');
  const pipe = createMultiPipeline(
    rigs.map((r) => r.fake),
    {
      outputBytes: OUT,
      depth: 2,
      compute: (c) => {
        rigs[c.deviceIndex]!.compute(c);
        if (c.index !== 6) return;
        setTimeout(() => ac.abort(reason), 5);
        return hang.promise;
      },
    },
  );
  await assert.rejects(pipe.run(200, { signal: ac.signal }), (e: unknown) => e === reason);
  hang.settle();
  for (const r of rigs) await eventually(freed(r.fake), 'every device freed once compute() settles');
});

test('no unhandled rejections', async () => {
  await new Promise((r) => setTimeout(r, 50));
  checkUnhandled();
});

test('a run whose stages all complete at once still lets timers fire: AbortSignal.timeout stops it', async () => {
  // Synchronous sink on the fake device: without the producer's yield the run chains on promises
  // alone, the 20 ms timer never fires and all 200,000 chunks are delivered (seen before the fix).
  const fake = createFakeDevice();
  fake.defineKernel('touch', ['pointer'], () => {}, 0.001);
  const touch = fake.compile('').getKernel('touch');
  const compute = (c: { stream: Stream; output: DeviceBuffer }) =>
    touch.launch(c.stream, { grid: 1, block: 1 }, c.output);
  let delivered = 0;
  let ticks = 0;
  const interval = setInterval(() => ticks++, 1);
  try {
    const pipe = createPipeline(fake, { outputBytes: OUT, depth: 4, compute, sink: () => void delivered++ });
    await assert.rejects(
      pipe.run(200_000, { signal: AbortSignal.timeout(20) }),
      (e: Error) => e.name === 'TimeoutError' || e.name === 'AbortError',
    );
  } finally {
    clearInterval(interval);
  }
  assert.ok(delivered < 200_000, `the run was not stopped: ${delivered} chunks delivered`);
  assert.ok(ticks > 0, 'a 1 ms interval never ran during the run');
  assertNoLeaks(fake);
  checkUnhandled();
});
