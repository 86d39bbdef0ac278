// The CUDA handle behind a Stream or Event of the object model, checked: it must belong to
// `device` and be a CUDA one (not the fake device's). Reading `.handle` throws if it was closed.
// The caller is named in two parts (`owner` is a label that already exists, `op` a literal) and
// the message is built only on failure: this runs several times per chunk, and a template
// string per call is garbage the pipeline's hot path does not need.
import { UsageError } from '../util/errors.js';
import type { DeviceCore, Event, Stream } from './types.js';

export function cudaHandle(
  x: Stream | Event,
  kind: 'stream' | 'event',
  device: DeviceCore,
  owner: string,
  op = '',
): bigint {
  if (x.device !== device) throw new UsageError(`${owner}${op}: ${kind} '${x.label}' belongs to another device`);
  const h = (x as { handle?: unknown }).handle;
  if (typeof h !== 'bigint') throw new UsageError(`${owner}${op}: ${kind} '${x.label}' is not a CUDA ${kind}`);
  return h;
}
