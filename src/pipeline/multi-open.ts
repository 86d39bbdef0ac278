// Which GPUs a multi-device run uses: 'all', a list of ordinals, or a count (the first N), as the
// library option `devices` and the CLI's --devices (parseDevicesSpec) spell them.
import { listDevices } from '../core/open.js';
import { open } from './device.js';
import type { Device } from './device.js';
import { UsageError } from '../util/errors.js';
import { closeDevices } from './multi-close.js';

export type DevicesSpec = 'all' | readonly number[] | number;

/**
 * --devices: "all", a comma-separated list of ordinals ("0,2", or "1," for the single ordinal 1),
 * or a count ("2": the first two devices).
 */
export function parseDevicesSpec(text: string): DevicesSpec {
  const t = text.trim();
  if (t === 'all') return 'all';
  if (/^\d+$/.test(t)) return Number(t);
  if (/^\d+(,\d*)*$/.test(t))
    return t
      .split(',')
      .filter((s) => s !== '')
      .map(Number);
  throw new UsageError(`--devices takes 'all', a count (e.g. 2) or a list of ordinals (e.g. 0,1 or 3,), got '${text}'`);
}

/** The ordinals a spec names, checked against the `count` devices present. */
export function resolveDevicesSpec(spec: DevicesSpec, count: number): number[] {
  if (spec === 'all') {
    if (count === 0)
      throw new UsageError("devices 'all': no CUDA device is visible; check nvidia-smi and CUDA_VISIBLE_DEVICES");
    return Array.from({ length: count }, (_, k) => k);
  }
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 1)
      throw new UsageError(`devices: a count must be a positive integer, got ${spec}`);
    if (spec > count)
      throw new UsageError(`devices: ${spec} asked but ${count} visible; ask for at most ${count} or pass 'all'`);
    return Array.from({ length: spec }, (_, k) => k);
  }
  if (!Array.isArray(spec) || spec.length === 0)
    throw new UsageError("devices: pass 'all', a count or a non-empty list of ordinals");
  const seen = new Set<number>();
  for (const o of spec) {
    if (!Number.isInteger(o) || o < 0 || o >= count)
      throw new UsageError(
        `devices: ordinal ${o} is out of range (${count} visible: 0..${count - 1}); \`tandem info\` lists them`,
      );
    if (seen.has(o))
      throw new UsageError(
        `devices: ordinal ${o} is listed twice; to run two pipelines on one GPU pass the same Device twice to createMultiPipeline`,
      );
    seen.add(o);
  }
  return [...spec];
}

/** Opens the real devices a spec names; if one fails, closes those already opened. */
export async function openDevices(spec: DevicesSpec): Promise<Device[]> {
  const ordinals = resolveDevicesSpec(spec, listDevices().length);
  const opened: Device[] = [];
  try {
    for (const o of ordinals) opened.push(await open(o));
    return opened;
  } catch (err) {
    closeDevices(opened);
    throw err;
  }
}
