// The device's event waiter, and the query-first await every completion goes through.
import { cudaError, type Driver } from '../../cuda/driver.js';
import { CUDA_ERROR_NOT_READY, CUDA_SUCCESS } from '../../cuda/constants.js';
import type { EventWaiter } from './waiter.js';
import { WorkerWaiter } from './worker-waiter.js';

export type { EventWaiter } from './waiter.js';

/** The waiter of a device's context: spins while completions come, then hands off to a thread. */
export function createWaiter(driver: Driver, ctx: bigint): EventWaiter {
  return new WorkerWaiter(driver, ctx);
}

/**
 * One cuEventQuery first (well under a µs): in a pipeline the awaited work has often finished
 * already, and then no thread needs to wake anyone.
 */
export function awaitEvent(driver: Driver, waiter: EventWaiter, event: bigint, call = 'cuEventQuery'): Promise<void> {
  const rc = driver.cuEventQuery(event) as number;
  if (rc === CUDA_SUCCESS) return Promise.resolve();
  if (rc !== CUDA_ERROR_NOT_READY) return Promise.reject(cudaError(rc, call));
  return waiter.wait(event);
}
