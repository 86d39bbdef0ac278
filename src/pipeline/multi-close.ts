// Closing a list of devices that may name one device twice (two pipelines on one GPU).
import type { Device } from './device.js';

/** Closes every device, each once even when listed twice; never throws. */
export function closeDevices(devices: readonly Device[]): void {
  for (const d of new Set(devices)) {
    try {
      d.close();
    } catch {
      // Closing is best effort here; the device reports its own trouble on the next use.
    }
  }
}
