// Picks the waiter for a device: the option, else TANDEM_EVENT_WAIT, else the default.
import { cudaError, type Driver } from '../../cuda/driver.js';
import { CUDA_ERROR_NOT_READY, CUDA_SUCCESS } from '../../cuda/constants.js';
import { AsyncWaiter } from './async-waiter.js';
import { PollWaiter } from './poll-waiter.js';
import { DEFAULT_EVENT_WAIT, strategyFromEnv, type EventWaitStrategy, type EventWaiter } from './waiter.js';
import { WorkerWaiter } from './worker-waiter.js';

export { DEFAULT_EVENT_WAIT, EVENT_WAIT_STRATEGIES, type EventWaitStrategy, type EventWaiter } from './waiter.js';

export function createWaiter(driver: Driver, ctx: bigint, strategy?: EventWaitStrategy): EventWaiter {
  switch (strategy ?? strategyFromEnv() ?? DEFAULT_EVENT_WAIT) {
    case 'async':
      return new AsyncWaiter(driver);
    case 'poll':
      return new PollWaiter(driver);
    case 'worker':
      return new WorkerWaiter(driver, ctx);
  }
}

/**
 * One cuEventQuery first (well under a µs): in a pipeline the awaited work has often finished
 * already, and then no strategy needs to wake anyone.
 */
export function awaitEvent(driver: Driver, waiter: EventWaiter, event: bigint, call = 'cuEventQuery'): Promise<void> {
  const rc = driver.cuEventQuery(event) as number;
  if (rc === CUDA_SUCCESS) return Promise.resolve();
  if (rc !== CUDA_ERROR_NOT_READY) return Promise.reject(cudaError(rc, call));
  return waiter.wait(event);
}
