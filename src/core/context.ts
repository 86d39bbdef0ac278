// What a device's children (streams, events, buffers, programs) need from it, without importing
// the device class: the driver, its context, making that context current on this thread, and
// registration so device.close() can close whatever is still open.
import { check, type Driver } from '../cuda/driver.js';
import type { EventWaiter } from './completion/index.js';
import type { LaunchLimits } from './launch-config.js';
import type { DeviceCore } from './types.js';

export interface Child {
  readonly closed: boolean;
  close(): void;
}

export interface DeviceContext {
  readonly device: DeviceCore;
  readonly driver: Driver;
  readonly ctx: bigint;
  readonly limits: LaunchLimits;
  readonly waiter: EventWaiter;
  /** Throws UsageError if the device was closed. */
  assertOpen(): void;
  /** cuCtxSetCurrent when another context is current on this thread. */
  makeCurrent(): void;
  adopt(child: Child): void;
  release(child: Child): void;
}

let current: bigint | null = null;

/** Cheap when `ctx` is already current; the driver keeps one current context per thread. */
export function setCurrentContext(driver: Driver, ctx: bigint): void {
  if (current === ctx) return;
  check(driver.cuCtxSetCurrent(ctx), 'cuCtxSetCurrent');
  current = ctx;
}

export function forgetContext(ctx: bigint): void {
  if (current === ctx) current = null;
}
