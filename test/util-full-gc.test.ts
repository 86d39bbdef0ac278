// collectGarbage(): the bench's full collection between measured runs really is one (a major GC
// the runtime reports), without --expose-gc on the command line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { collectGarbage } from '../src/util/full-gc.js';

test('collectGarbage runs a major collection in a process started without --expose-gc', async () => {
  assert.ok(!process.execArgv.includes('--expose-gc'));
  const kinds: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) kinds.push((e as unknown as { detail: { kind: number } }).detail.kind);
  });
  obs.observe({ entryTypes: ['gc'] });
  try {
    assert.equal(collectGarbage(), true);
    assert.equal(collectGarbage(), true); // the second call reuses the function it found
    await new Promise((r) => setTimeout(r, 20)); // entries are delivered asynchronously
  } finally {
    obs.disconnect();
  }
  assert.ok(
    kinds.filter((k) => k === constants.NODE_PERFORMANCE_GC_MAJOR).length >= 2,
    `gc kinds seen: ${kinds.join(',')}`,
  );
});
