// The safety net for resources nobody closed: when one is garbage-collected, its raw handle is
// released. It holds only the handle, the context and the release function (never the object),
// and it never throws: a failure here has nobody to report to.
import { driver } from '../cuda/driver.js';
import { setCurrentContext } from './context.js';

interface RawHandle {
  ctx: bigint;
  handle: bigint;
  release: (handle: bigint) => number;
}

const registry = new FinalizationRegistry<RawHandle>((raw) => {
  try {
    setCurrentContext(driver(), raw.ctx);
    raw.release(raw.handle);
  } catch {
    // swallowed on purpose: see above
  }
});

/** Registers `owner`; `token` unregisters it when owner.close() runs first. */
export function watch(owner: object, raw: RawHandle, token: object): void {
  registry.register(owner, raw, token);
}

export function unwatch(token: object): void {
  registry.unregister(token);
}
