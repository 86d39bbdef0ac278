import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_EVENT_WAIT, EVENT_WAIT_STRATEGIES, strategyFromEnv } from '../src/core/completion/waiter.js';
import { UsageError } from '../src/cuda/errors.js';
import { PollWaiter } from '../src/core/completion/poll-waiter.js';
import { sweepEvents, type PendingWait } from '../src/core/completion/sweep.js';

test('TANDEM_EVENT_WAIT picks a strategy; unset or empty leaves the default', () => {
  for (const s of EVENT_WAIT_STRATEGIES) assert.equal(strategyFromEnv({ TANDEM_EVENT_WAIT: s }), s);
  assert.equal(strategyFromEnv({}), undefined);
  assert.equal(strategyFromEnv({ TANDEM_EVENT_WAIT: '' }), undefined);
  assert.equal(DEFAULT_EVENT_WAIT, 'worker');
});

test('an unknown strategy is a usage error listing the choices', () => {
  assert.throws(
    () => strategyFromEnv({ TANDEM_EVENT_WAIT: 'spin' }),
    (e: Error) =>
      e instanceof UsageError &&
      e.message === "TANDEM_EVENT_WAIT='spin' is not a strategy; use one of worker, poll, async",
  );
});

// The sweep behind the 'poll' strategy and the worker's spinning phase, with a stand-in for
// cuEventQuery: events are numbers, `state` says which are done (0), pending (600) or faulted.
const NOT_READY = 600;

test('sweepEvents: settles what finished, keeps the rest in order, in place', () => {
  const state = new Map<bigint, number>([
    [1n, 0],
    [2n, NOT_READY],
    [3n, 700],
    [4n, NOT_READY],
  ]);
  const log: string[] = [];
  const w = (e: bigint) => ({
    event: e,
    resolve: () => log.push(`done ${e}`),
    reject: (err: Error) => log.push(`fail ${e} ${(err as { cudaName?: string }).cudaName}`),
  });
  const list = [w(1n), w(2n), w(3n), w(4n)];
  const same = list;
  assert.equal(
    sweepEvents((e) => state.get(e as bigint), list),
    2,
  );
  assert.equal(list, same);
  assert.deepEqual(
    list.map((x) => x.event),
    [2n, 4n],
  );
  assert.deepEqual(log, ['done 1', 'fail 3 CUDA_ERROR_ILLEGAL_ADDRESS']);
});

test('sweepEvents: a callback may start a new wait on the same list; it is not lost, nor settled in that sweep', () => {
  const state = new Map<bigint, number>([
    [1n, 0],
    [2n, NOT_READY],
    [5n, 0],
  ]);
  const list: PendingWait[] = [];
  const log: string[] = [];
  list.push({
    event: 1n,
    resolve: () => (log.push('done 1'), list.push({ event: 5n, resolve: () => log.push('done 5'), reject: () => {} })),
    reject: () => {},
  });
  list.push({ event: 2n, resolve: () => log.push('done 2'), reject: () => {} });
  assert.equal(
    sweepEvents((e) => state.get(e as bigint), list),
    1,
  );
  assert.deepEqual(
    list.map((x) => x.event),
    [2n, 5n],
  );
  assert.deepEqual(log, ['done 1']);
  assert.equal(
    sweepEvents((e) => state.get(e as bigint), list),
    1,
  );
  assert.deepEqual(log, ['done 1', 'done 5']);
});

test('sweepEvents: a callback that throws does not strand the waits after it; the error is reported on its own', () => {
  const state = new Map<bigint, number>([
    [1n, 0],
    [2n, 0],
  ]);
  const log: string[] = [];
  const boom = new Error('callback bug');
  // The sweep rethrows from a microtask (an uncaught exception); catch that microtask here.
  const queued: (() => void)[] = [];
  const real = globalThis.queueMicrotask;
  globalThis.queueMicrotask = (f) => void queued.push(f);
  const list: PendingWait[] = [
    {
      event: 1n,
      resolve: () => {
        throw boom;
      },
      reject: () => {},
    },
    { event: 2n, resolve: () => log.push('done 2'), reject: () => {} },
  ];
  try {
    assert.equal(
      sweepEvents((e) => state.get(e as bigint), list),
      2,
    );
  } finally {
    globalThis.queueMicrotask = real;
  }
  assert.deepEqual(log, ['done 2']);
  assert.equal(queued.length, 1);
  assert.throws(queued[0]!, (e) => e === boom);
});

test("'poll' waiter: watch() calls back once the event finishes, wait() resolves, close() fails what is pending", async () => {
  const state = new Map<bigint, number>([
    [1n, NOT_READY],
    [2n, NOT_READY],
    [3n, NOT_READY],
  ]);
  const waiter = new PollWaiter({ cuEventQuery: (e: bigint) => state.get(e) } as never);
  const log: string[] = [];
  waiter.watch({ event: 1n, resolve: () => log.push('done 1'), reject: () => log.push('fail 1') });
  const p2 = waiter.wait(2n).then(() => log.push('done 2'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, []);
  assert.equal(waiter.pending, 2);
  state.set(1n, 0);
  state.set(2n, 0);
  await p2;
  for (let k = 0; k < 3 && log.length < 2; k++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(log.sort(), ['done 1', 'done 2']);
  const failed = new Promise<Error>((resolve) => waiter.watch({ event: 3n, resolve: () => {}, reject: resolve }));
  waiter.close(new Error('device closed'));
  assert.equal((await failed).message, 'device closed');
  const late = await new Promise<Error>((resolve) => waiter.watch({ event: 3n, resolve: () => {}, reject: resolve }));
  assert.equal(late.message, 'device closed');
});
