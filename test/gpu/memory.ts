// Device memory as the GPU tests compare it. A run hands its ring back to the device's pool,
// which keeps it for the next run (that is the pool's job), so "nothing leaked" means: nothing
// is still in use, and with the pools trimmed the driver's free memory is back where it was.
import assert from 'node:assert/strict';
import type { Device } from '../../src/pipeline/device.js';

/** cuMemGetInfo's free bytes once the devices' work is done and their pools hold nothing idle. */
export async function settledFree(device: Device, ...others: Device[]): Promise<number> {
  for (const d of [device, ...others]) {
    await d.synchronize();
    d.pool.trim();
  }
  return device.memoryInfo().free;
}

/** Every buffer, stream and event the runs took from the devices' pools went back. */
export function assertNothingInUse(what: string, ...devices: Device[]): void {
  for (const d of devices) {
    const st = d.pool.stats();
    const inUse = { pinned: st.pinned.inUse, device: st.device.inUse, stream: st.stream.inUse, event: st.event.inUse };
    assert.deepEqual(inUse, { pinned: 0, device: 0, stream: 0, event: 0 }, `${what}: pool resources still in use`);
  }
}
