import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sweepEvents, type PendingWait } from '../src/core/completion/sweep.js';

// The sweep behind the worker waiter's spinning phase, with a stand-in for
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
