// The devices behind the CLI's --devices: one pipeline per entry, a GPU listed twice giving two
// pipelines on the same Device object (the one-GPU smoke test, --devices 0,0), each distinct GPU
// opened once and closed once. --fake makes one fake device per distinct ordinal.
import type { Device } from '../pipeline/device.js';
import { UsageError } from '../util/errors.js';

export type DeviceList = 'all' | readonly number[];

/**
 * --devices text → ordinals: 'all', a count N (the first N), or a list of ordinals where a
 * repeat is allowed ('0,0'; a trailing comma makes one ordinal a list: '1,').
 */
export function parseDeviceList(value: string | number, option = '--devices'): DeviceList {
  const text = String(value).trim();
  if (text === 'all') return 'all';
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n < 1) throw new UsageError(`${option}: a count must be at least 1, got '${text}'`);
    return Array.from({ length: n }, (_, k) => k);
  }
  if (!/^\d+(,\d+)*,?$/.test(text))
    throw new UsageError(
      `${option} takes 'all', a count (e.g. 2) or a list of ordinals (e.g. 0,1 or 0,0), got '${text}'`,
    );
  return text.split(',').filter(Boolean).map(Number);
}

export interface OpenedDevices {
  /** One entry per pipeline; repeated ordinals share one Device. */
  devices: Device[];
  ordinals: number[];
  /** Distinct devices (the GPUs doing the work). */
  distinct: Device[];
  close(): Promise<void>;
}

/** Opens each distinct ordinal once (fake devices with `fake`), failing cleanly part way. */
export async function openDeviceList(
  list: DeviceList,
  options: { fake?: boolean; fakeOptions?: Record<string, unknown> } = {},
): Promise<OpenedDevices> {
  let ordinals: number[];
  if (list === 'all') {
    if (options.fake)
      throw new UsageError('--devices all: the fake device has no list of GPUs; give a count, e.g. --devices 2');
    const { listDevices } = await import('../core/open.js');
    const count = listDevices().length;
    if (count === 0)
      throw new UsageError('--devices all: no CUDA device is visible; check nvidia-smi and CUDA_VISIBLE_DEVICES');
    ordinals = Array.from({ length: count }, (_, k) => k);
  } else {
    ordinals = [...list];
  }
  if (ordinals.length === 0) throw new UsageError('--devices: name at least one device');
  const byOrdinal = new Map<number, Device>();
  const closeAll = async () => {
    for (const d of byOrdinal.values()) {
      await d.synchronize().catch(() => undefined);
      try {
        d.close();
      } catch {
        // best effort: the run's own error is the one to report
      }
    }
  };
  try {
    if (options.fake) {
      const { FakeDevice } = await import('../testing/index.js');
      for (const o of ordinals)
        if (!byOrdinal.has(o)) byOrdinal.set(o, new FakeDevice({ ...options.fakeOptions, ordinal: o }));
    } else {
      const [{ listDevices }, { open }] = await Promise.all([
        import('../core/open.js'),
        import('../pipeline/device.js'),
      ]);
      const count = listDevices().length;
      for (const o of ordinals) {
        if (o >= count)
          throw new UsageError(
            `--devices: ordinal ${o} is out of range (${count} visible: 0..${count - 1}); \`tandem info\` lists them`,
          );
      }
      for (const o of ordinals) if (!byOrdinal.has(o)) byOrdinal.set(o, await open(o));
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  return {
    devices: ordinals.map((o) => byOrdinal.get(o)!),
    ordinals,
    distinct: [...byOrdinal.values()],
    close: closeAll,
  };
}
