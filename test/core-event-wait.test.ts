import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_EVENT_WAIT, EVENT_WAIT_STRATEGIES, strategyFromEnv } from '../src/core/completion/waiter.js';
import { UsageError } from '../src/cuda/errors.js';

test('TANDEM_EVENT_WAIT picks a strategy; unset or empty leaves the default', () => {
  for (const s of EVENT_WAIT_STRATEGIES) assert.equal(strategyFromEnv({ TANDEM_EVENT_WAIT: s }), s);
  assert.equal(strategyFromEnv({}), undefined);
  assert.equal(strategyFromEnv({ TANDEM_EVENT_WAIT: '' }), undefined);
  assert.equal(DEFAULT_EVENT_WAIT, 'worker');
});

test('an unknown strategy is a usage error listing the choices', () => {
  assert.throws(
    () => strategyFromEnv({ TANDEM_EVENT_WAIT: 'spin' }),
    (e: Error) => e instanceof UsageError && e.message === "TANDEM_EVENT_WAIT='spin' is not a strategy; use one of worker, poll, async",
  );
});
