// The CUDA handle behind a Stream or Event of the object model, checked: it must belong to
// `device` and be a CUDA one (not the fake device's). Reading `.handle` throws if it was closed.
import { UsageError } from '../cuda/errors.js';
import type { Device, Event, Stream } from './types.js';

export function cudaHandle(x: Stream | Event, kind: 'stream' | 'event', device: Device, what: string): bigint {
  if (x.device !== device) throw new UsageError(`${what}: ${kind} '${x.label}' belongs to another device`);
  const h = (x as { handle?: unknown }).handle;
  if (typeof h !== 'bigint') throw new UsageError(`${what}: ${kind} '${x.label}' is not a CUDA ${kind}`);
  return h;
}
