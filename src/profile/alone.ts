// A GPU stage run alone: a chunk's kernels, or its D2H copy into pinned memory, over the same
// chunks on one stream, back to back. The compute-only and copy-only times the headline
// efficiency divides by (ideal = the slowest stage alone), the calibration's probes and the
// benchmarks' references are all timed here, each caller choosing how the clock starts.
import type { DeviceBuffer, PinnedBuffer, Stream } from '../core/types.js';
import type { Device } from '../pipeline/device.js';
import type { ComputeChunk } from '../pipeline/types.js';
import { gatedGpuMs } from './hold.js';

/** Enqueues one chunk's kernels on chunk.stream (a pipeline's compute, over chunk indices). */
export type ComputeFn = (chunk: ComputeChunk<number>) => void | Promise<void>;

/** What runs alone: the chunks' compute, or 'copy' (a chunk-sized D2H into pinned memory each). */
export type AloneStage = ComputeFn | 'copy';

/** timeAlone's options: the chunks, the buffers they rotate through, warm-up, clock start, repeats. */
export interface AloneOptions {
  chunkBytes: number;
  /** Chunks per timed figure. */
  chunks: number;
  /**
   * Device buffers the chunks rotate through (chunk k uses buffer k mod n), so the access pattern
   * matches a ring of that depth. Default 2.
   */
  buffers?: number;
  /** Pinned buffers the copies rotate through the same way. Default `buffers`. */
  pinned?: number;
  /** Untimed chunks 0 … warmup−1 first (clocks up, caches warm); the stream drains after them. Default 2. */
  warmup?: number;
  /**
   * How the clock starts on a real GPU:
   * - 'hold' (default): the chunks are queued behind a hold kernel before the start event
   *   (hold.ts), so the figure is the GPU's back-to-back time with no host launch cost inside,
   *   as a pipeline that runs ahead of the GPU sees it. `tandem bench`'s cells and calibration,
   *   the jobs mode's ideal and bench/render.ts time this way.
   * - 'idle': a start event on the idle stream, then the chunks as fast as the host enqueues
   *   them, then an end event: the figure includes any time the GPU waits for the host (the
   *   first submission, and any chunk enqueued later than the GPU could have started it).
   *   bench/overlap.ts, bench/multi.ts, bench/race.ts and bench/copy-drift.ts time this way, so
   *   their figures stay comparable with the ones docs/benchmarks.md records for them.
   * The fake device has no hold kernel: there both are a pair of events around the chunks,
   * which gives its virtual time.
   */
  start?: 'hold' | 'idle';
  /** Figures to take, one after another on the same stream and buffers after one warm-up. Default 1. */
  repeats?: number;
}

/** Pauses for the event loop now and then in an 'idle' run on a GPU: a long queue can block in the driver. */
const YIELD_EVERY = 256;

/**
 * GPU ms of `chunks` chunks of `stage` run back to back, once per repeat (`repeats` figures, in
 * order). Chunk k is { index: k, slot: k mod buffers, output: device buffer k mod buffers,
 * input: null, item: k }; the warm-up chunks are 0 … warmup−1 and every repeat restarts at 0. A
 * copy moves device buffer k mod buffers into pinned buffer k mod pinned. Everything it allocates
 * is freed before it returns.
 */
export async function timeAlone(device: Device, stage: AloneStage, options: AloneOptions): Promise<number[]> {
  const nDevice = Math.max(1, options.buffers ?? 2);
  const nPinned = Math.max(1, options.pinned ?? nDevice);
  const what = stage === 'copy' ? 'copy' : 'compute';
  const stream = device.createStream({ label: `${what} alone` });
  const dev: DeviceBuffer[] = [];
  const host: PinnedBuffer[] = [];
  try {
    // Device buffer i, then pinned buffer i: where pinned memory lands can depend on the order of
    // allocations, and a copy's figure on where it lands.
    for (let i = 0; i < Math.max(nDevice, stage === 'copy' ? nPinned : 0); i++) {
      if (i < nDevice) dev.push(device.allocDevice(options.chunkBytes, `alone device[${i}]`));
      if (stage === 'copy' && i < nPinned) host.push(device.allocPinned(options.chunkBytes, `alone pinned[${i}]`));
    }
    const enqueue =
      stage === 'copy'
        ? (k: number) => device.copy(stream, host[k % nPinned]!, dev[k % nDevice]!)
        : (k: number) =>
            stage({ index: k, slot: k % nDevice, stream, output: dev[k % nDevice]!, input: null, item: k });
    for (let k = 0; k < (options.warmup ?? 2); k++) await enqueue(k);
    await stream.synchronize();
    const figures: number[] = [];
    for (let r = 0; r < (options.repeats ?? 1); r++) {
      if (device.backend === 'cuda' && (options.start ?? 'hold') === 'hold')
        figures.push((await gatedGpuMs(device, stream, options.chunks, enqueue)).ms);
      else figures.push(await betweenEvents(device, stream, options.chunks, enqueue));
    }
    return figures;
  } finally {
    await stream.synchronize().catch(() => undefined);
    for (const b of dev) b.close();
    for (const b of host) b.close();
    stream.close();
  }
}

/**
 * Events around `count` items enqueued on an idle stream. A synchronous enqueue is not awaited,
 * so nothing but the enqueue itself separates two items. On a GPU the loop yields to the event
 * loop after every YIELD_EVERY items; on the fake device it never does, since there a pause of
 * the host would show as idle time on its realtime clock.
 */
async function betweenEvents(
  device: Device,
  stream: Stream,
  count: number,
  enqueue: (k: number) => void | Promise<void>,
): Promise<number> {
  const start = device.createEvent({ timing: true, label: 'alone start' });
  const end = device.createEvent({ timing: true, label: 'alone end' });
  try {
    start.record(stream);
    for (let k = 0; k < count; k++) {
      const pending = enqueue(k);
      if (pending) await pending;
      if (device.backend === 'cuda' && k % YIELD_EVERY === YIELD_EVERY - 1)
        await new Promise((resolve) => setImmediate(resolve));
    }
    end.record(stream);
    await end.completion();
    return end.elapsedMs(start);
  } finally {
    start.close();
    end.close();
  }
}
