// Options and arguments are checked before a run allocates anything: each bad value throws a
// UsageError that names the option and what to change, and the fake device's live resources stay
// at zero. Limits the platform imposes (Node's 2^31 - 1 ms timers) are part of the check.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../src/util/errors.js';
import { createPipeline, PipelineError } from '../src/pipeline/index.js';
import { createMultiPipeline } from '../src/pipeline/multi.js';
import { assertNoLeaks, rig, watchUnhandled } from './pipeline-helpers.js';

const checkUnhandled = watchUnhandled();
const OUT = 32;
const slowSink = () => new Promise<void>((r) => setTimeout(r, 15));

test('sinkTimeoutMs: Infinity and 2^31 - 1 set no early timer; 2^31 and above are refused up front', async () => {
  const { fake, compute } = rig(1, OUT);
  for (const sinkTimeoutMs of [Infinity, 2 ** 31 - 1]) {
    const stats = await createPipeline(fake, {
      outputBytes: OUT,
      depth: 2,
      compute,
      sink: slowSink,
      sinkTimeoutMs,
    }).run(3);
    assert.equal(stats.chunks, 3, `sinkTimeoutMs ${sinkTimeoutMs}`);
  }
  for (const sinkTimeoutMs of [2 ** 31, 1e12, Number.MAX_VALUE, -Infinity, NaN, '100' as never]) {
    assert.throws(
      () => createPipeline(fake, { outputBytes: OUT, compute, sink: slowSink, sinkTimeoutMs }),
      (e: unknown) =>
        e instanceof UsageError && /sinkTimeoutMs must be .*2147483647.*or Infinity for no limit/.test(e.message),
      String(sinkTimeoutMs),
    );
  }
  assertNoLeaks(fake);
});

test('sinkTimeoutMs on the multi-device pipeline: the same limits', async () => {
  const rigs = [rig(2, OUT, 1, { ordinal: 0 }), rig(3, OUT, 1, { ordinal: 1 })];
  const devices = rigs.map((r) => r.fake);
  const compute = (c: { deviceIndex: number } & Parameters<(typeof rigs)[0]['compute']>[0]) =>
    rigs[c.deviceIndex]!.compute(c);
  const stats = await createMultiPipeline(devices, {
    outputBytes: OUT,
    depth: 2,
    compute,
    sink: slowSink,
    sinkTimeoutMs: Infinity,
  }).run(4);
  assert.equal(stats.chunks, 4);
  assert.throws(
    () => createMultiPipeline(devices, { outputBytes: OUT, compute, sinkTimeoutMs: 2 ** 31 }),
    /sinkTimeoutMs must be/,
  );
  for (const f of devices) assertNoLeaks(f);
});

test('a signal that is not an AbortSignal is refused before the run allocates anything', async () => {
  const { fake, compute } = rig(4, OUT);
  const pipe = createPipeline(fake, { outputBytes: OUT, depth: 2, compute });
  const multi = createMultiPipeline([fake], { outputBytes: OUT, depth: 2, compute });
  for (const signal of [{}, { aborted: false }, 'stop', null, new AbortController()] as unknown as AbortSignal[]) {
    const usage = (e: unknown) =>
      e instanceof UsageError && /signal must be an AbortSignal \(new AbortController\(\)\.signal/.test(e.message);
    await assert.rejects(pipe.run(4, { signal }), usage, String(signal));
    await assert.rejects(multi.run(4, { signal }), usage, String(signal));
    await assert.rejects(
      (async () => {
        for await (const c of pipe.chunks(4, { signal })) c.release();
      })(),
      usage,
    );
    assertNoLeaks(fake);
  }
  await assert.rejects(pipe.run(4, null as never), /run options: pass an object/);
  // A real signal still works, and one from another AbortController as well.
  assert.equal((await pipe.run(4, { signal: new AbortController().signal })).chunks, 4);
  assert.equal((await multi.run(4, { signal: AbortSignal.timeout(60_000) })).chunks, 4);
  assertNoLeaks(fake);
});

test('options of the wrong type are refused with what to change: trace, label, priorities', () => {
  const { fake, compute } = rig(5, OUT);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ trace: 'yes' }, /trace must be true or false, got yes/],
    [{ label: 7 }, /label must be a string, got number/],
    [{ priorities: 3 }, /priorities must be an object \{ compute\?, copy\?, upload\? \}/],
    [{ priorities: { compute: 'high' } }, /priorities\.compute must be an integer stream priority/],
    [{ priorities: { gpu: 1 } }, /priorities\.gpu is not a stream of the pipeline; use compute, copy or upload/],
  ];
  for (const [extra, re] of cases) {
    assert.throws(
      () => createPipeline(fake, { outputBytes: OUT, compute, ...extra }),
      (e: unknown) => e instanceof UsageError && re.test(e.message),
      JSON.stringify(extra),
    );
    assert.throws(() => createMultiPipeline([fake], { outputBytes: OUT, compute, ...extra }), re);
  }
  assertNoLeaks(fake);
});

test('an iterable whose iterator is not one is refused before anything is allocated', async () => {
  const { fake, compute } = rig(6, OUT);
  const pipe = createPipeline(fake, { outputBytes: OUT, depth: 2, compute });
  const bad: [unknown, RegExp][] = [
    [
      { [Symbol.iterator]: () => 5 },
      /\[Symbol\.iterator\]\(\) must return an iterator \(an object with next\(\)\), got number 5/,
    ],
    [{ [Symbol.iterator]: () => ({}) }, /must return an iterator/],
    [{ [Symbol.asyncIterator]: () => null }, /\[Symbol\.asyncIterator\]\(\) must return an iterator/],
    [
      {
        [Symbol.iterator]: () => {
          throw new Error('no such file');
        },
      },
      /\[Symbol\.iterator\]\(\) threw: no such file/,
    ],
  ];
  for (const [inputs, re] of bad) {
    await assert.rejects(pipe.run(inputs as never), (e: unknown) => e instanceof UsageError && re.test(e.message));
    assertNoLeaks(fake);
  }
});

test('an iterator whose next() breaks the protocol fails the input stage at that chunk, never an item undefined', async () => {
  const { fake, compute } = rig(7, OUT);
  const seen: unknown[] = [];
  const pipe = createPipeline<unknown>(fake, {
    outputBytes: OUT,
    depth: 2,
    compute: (c) => (seen.push(c.item), compute(c)),
  });
  /** An iterator that yields 0, 1, 2 properly, then `bad` from next(). */
  const after3 = (bad: () => unknown, asyncIt: boolean) => {
    let n = 0;
    const next = () => (n < 3 ? { value: n++, done: false } : bad());
    return asyncIt
      ? { [Symbol.asyncIterator]: () => ({ next: async () => next() }) }
      : { [Symbol.iterator]: () => ({ next }) };
  };
  const cases: [unknown, RegExp][] = [
    [after3(() => 5, false), /next\(\) returned number 5, not a \{ value, done \} object/],
    [after3(() => undefined, false), /next\(\) returned undefined undefined, not a \{ value, done \} object/],
    [after3(() => 'x', true), /next\(\) returned string x, not a \{ value, done \} object/],
    [after3(() => Promise.resolve({ value: 3, done: false }), false), /next\(\) returned a promise; .*async iterable/],
    [
      after3(() => {
        throw new Error('read failed');
      }, false),
      /read failed/,
    ],
  ];
  for (const [inputs, re] of cases) {
    seen.length = 0;
    const err = await pipe.run(inputs as never).then(
      () => assert.fail('the run should have failed'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PipelineError, String(err));
    assert.equal(err.stage, 'input');
    assert.equal(err.chunk, 3);
    assert.match(err.message, re);
    assert.deepEqual(seen, [0, 1, 2], 'no chunk computed from a malformed result');
    assertNoLeaks(fake);
  }
});

test('no unhandled rejections', async () => {
  await new Promise((r) => setTimeout(r, 50));
  checkUnhandled();
});
