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

/**
 * After the runs: asserts that every buffer, stream and event they took from the devices' pools
 * went back, then gives settledFree(), to compare with the one taken before.
 */
export async function freeAfterRuns(what: string, device: Device, ...others: Device[]): Promise<number> {
  for (const d of [device, ...others]) {
    const st = d.pool.stats();
    const inUse = { pinned: st.pinned.inUse, device: st.device.inUse, stream: st.stream.inUse, event: st.event.inUse };
    assert.deepEqual(inUse, { pinned: 0, device: 0, stream: 0, event: 0 }, `${what}: pool resources still in use`);
  }
  return settledFree(device, ...others);
}
