// Each GPU stage run alone over the same chunks, on one stream, back to back: the compute-only and
// copy-only times the headline efficiency divides by (ideal = the slowest stage alone), and what
// the ratio calibration measures. On a real GPU the work is queued behind a hold kernel before
// the timing events start (hold.ts), so the figure is the GPU's back-to-back time as a pipeline
// that runs ahead of the GPU sees it, without the host's launch cost; on the fake device a pair
// of events around the work gives its virtual time.
import type { DeviceBuffer, PinnedBuffer, Stream } from '../core/types.js';
import type { Device } from '../pipeline/device.js';
import type { ComputeChunk } from '../pipeline/types.js';
import { gatedGpuMs } from './hold.js';

export type ComputeFn = (chunk: ComputeChunk<number>) => void | Promise<void>;

export interface AloneOptions {
  chunkBytes: number;
  chunks: number;
  /** Buffers to rotate through (the ring depth), so the access pattern matches the pipeline. */
  buffers?: number;
  /** Untimed chunks first (clocks up, caches warm). Default 2. */
  warmup?: number;
}

async function timed(device: Device, stream: Stream, enqueue: () => Promise<void>): Promise<number> {
  const start = device.createEvent({ timing: true, label: 'alone start' });
  const end = device.createEvent({ timing: true, label: 'alone end' });
  try {
    start.record(stream);
    await enqueue();
    end.record(stream);
    await end.completion();
    return end.elapsedMs(start);
  } finally {
    start.close();
    end.close();
  }
}

/** Kernel time of `chunks` chunks run back to back, ms. */
export async function computeAloneMs(device: Device, compute: ComputeFn, options: AloneOptions): Promise<number> {
  const n = Math.max(1, options.buffers ?? 2);
  const stream = device.createStream({ label: 'compute alone' });
  const bufs: DeviceBuffer[] = [];
  try {
    for (let i = 0; i < n; i++) bufs.push(device.allocDevice(options.chunkBytes, `alone device[${i}]`));
    const chunk = (index: number): ComputeChunk<number> => ({
      index,
      slot: index % n,
      stream,
      output: bufs[index % n]!,
      input: null,
      item: index,
    });
    for (let k = 0; k < (options.warmup ?? 2); k++) await compute(chunk(k));
    await stream.synchronize();
    if (device.backend === 'cuda')
      return (await gatedGpuMs(device, stream, options.chunks, (k) => compute(chunk(k)))).ms;
    return await timed(device, stream, async () => {
      for (let k = 0; k < options.chunks; k++) await compute(chunk(k));
    });
  } finally {
    await stream.synchronize().catch(() => undefined);
    for (const b of bufs) b.close();
    stream.close();
  }
}

/** Pinned D2H time of `chunks` chunk-sized copies back to back, ms. */
export async function copyAloneMs(device: Device, options: AloneOptions): Promise<number> {
  const n = Math.max(1, options.buffers ?? 2);
  const stream = device.createStream({ label: 'copy alone' });
  const dev: DeviceBuffer[] = [];
  const host: PinnedBuffer[] = [];
  try {
    for (let i = 0; i < n; i++) {
      dev.push(device.allocDevice(options.chunkBytes, `alone device[${i}]`));
      host.push(device.allocPinned(options.chunkBytes, `alone pinned[${i}]`));
    }
    for (let k = 0; k < (options.warmup ?? 2); k++) device.copy(stream, host[k % n]!, dev[k % n]!);
    await stream.synchronize();
    if (device.backend === 'cuda')
      return (await gatedGpuMs(device, stream, options.chunks, (k) => device.copy(stream, host[k % n]!, dev[k % n]!)))
        .ms;
    return await timed(device, stream, async () => {
      for (let k = 0; k < options.chunks; k++) device.copy(stream, host[k % n]!, dev[k % n]!);
    });
  } finally {
    await stream.synchronize().catch(() => undefined);
    for (const b of dev) b.close();
    for (const b of host) b.close();
    stream.close();
  }
}
