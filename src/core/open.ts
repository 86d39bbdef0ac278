// Entry points below the pipeline: list the devices and ask whether a driver is there at all (for the
// CLI's one-line message and the GPU tests' skip reason).
import { check, initDriver } from '../cuda/driver.js';
import { CudaError, LibraryNotFoundError } from '../cuda/errors.js';
import { readDeviceProperties } from './properties.js';
import type { DeviceProperties } from './types.js';

/** Every visible device's properties, without creating contexts. */
export function listDevices(): DeviceProperties[] {
  const d = initDriver();
  const count = [0];
  check(d.cuDeviceGetCount(count), 'cuDeviceGetCount');
  const out: DeviceProperties[] = [];
  for (let i = 0; i < count[0]!; i++) {
    const dev = [0];
    check(d.cuDeviceGet(dev, i), 'cuDeviceGet', `ordinal ${i}`);
    out.push(readDeviceProperties(d, i, dev[0]!));
  }
  return out;
}

/** driverAvailable()'s answer: the driver version and device count, or why there is none. */
export type DriverAvailability = { ok: true; version: number; devices: number } | { ok: false; reason: string };

/** Whether a usable driver and at least one GPU are present; never throws. */
export function driverAvailable(): DriverAvailability {
  try {
    const d = initDriver();
    const count = [0];
    check(d.cuDeviceGetCount(count), 'cuDeviceGetCount');
    if (count[0] === 0) return { ok: false, reason: 'the NVIDIA driver loaded but reports no CUDA device' };
    const version = [0];
    check(d.cuDriverGetVersion(version), 'cuDriverGetVersion');
    return { ok: true, version: version[0]!, devices: count[0]! };
  } catch (err) {
    if (err instanceof LibraryNotFoundError || err instanceof CudaError) return { ok: false, reason: err.message };
    return { ok: false, reason: `loading the NVIDIA driver failed: ${(err as Error).message}` };
  }
}
