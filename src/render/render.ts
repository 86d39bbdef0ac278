// One render: a frame workload through the pipeline into a sink, with progress callbacks and
// the sink finalised whatever happens (closed after success, aborted after an error or an
// interrupt, so an mp4 stays playable). Used by `tandem render` and bench/render.ts.
import { performance } from 'node:perf_hooks';
import type { Device } from '../pipeline/device.js';
import { createPipeline } from '../pipeline/index.js';
import { createMultiPipeline } from '../pipeline/multi.js';
import type { MultiPipelineStats } from '../pipeline/multi-types.js';
import type { OutputChunk, PipelineMode, PipelineStats } from '../pipeline/types.js';
import { multiAsPipelineStats } from '../pipeline/multi-stats.js';
import type { Sink, SinkResult } from '../sinks/types.js';
import { frameRanges, framesInChunk, type FrameRange } from '../formats/frame-format.js';
import type { FrameWorkload } from '../workloads/types.js';

/** runRender()'s progress after each chunk: frames and chunks done, time, what the sink is doing. */
export interface RenderProgress {
  framesDone: number;
  chunksDone: number;
  elapsedMs: number;
  /** Wall time during which at least one chunk was in the sink (ms). */
  sinkActiveMs: number;
  /** Chunks in the host stage right now. */
  sinkInFlight: number;
}

/** What runRender() renders: a workload on one device (or several) into a sink, and how. */
export interface RenderOptions {
  device: Device;
  /**
   * One pipeline per entry (the first should be `device`; a Device may repeat: two pipelines on
   * one GPU). With more than one, chunks go to whichever frees a slot first and the sink still
   * gets them in order. Default [device].
   */
  devices?: readonly Device[];
  workload: FrameWorkload;
  sink: Sink;
  frames: number;
  depth?: number | 'auto';
  /** Of the ring's slots, how many have device buffers (PipelineOptions.deviceSlots). */
  deviceSlots?: number | 'auto';
  mode?: PipelineMode;
  /** Per-chunk timing events (for --report); off for headline figures. */
  trace?: boolean;
  signal?: AbortSignal;
  onChunk?: (progress: RenderProgress) => void;
}

/** How a render ended: its statistics and sink result, or the error that stopped it early. */
export interface RenderOutcome {
  /** The run's statistics (a multi-device run's in the same shape: see multiAsPipelineStats). */
  stats: PipelineStats | null;
  /** A multi-device run's own statistics (per device shares, the bottleneck named), else null. */
  multi: MultiPipelineStats | null;
  sink: SinkResult;
  progress: RenderProgress;
  /** The error that ended the run early (an AbortError after an interrupt), else null. */
  error: unknown;
  /** Whether the sink was finalised cleanly (close() succeeded, or abort() after an interrupt). */
  finalized: boolean;
  /**
   * From the pipeline's start to the sink's last write settling (ms): stats.wallMs ends when the
   * last slot was released, and a sink that releases its slot early (PNG: frames copied out, then
   * encoded) is still working then. The output's real wall; null without stats.
   */
  outputWallMs: number | null;
}

/**
 * Runs the render; never throws for run failures — they come back in `error` with the sink
 * already aborted — so the caller can still print what was written. Setup errors do throw.
 */
export async function runRender(options: RenderOptions): Promise<RenderOutcome> {
  const { device, workload, sink, frames } = options;
  const devices = options.devices && options.devices.length > 0 ? options.devices : [device];
  // One instance per distinct device: kernels belong to a context.
  const instances = new Map<Device, ReturnType<FrameWorkload['setup']>>();
  for (const d of devices) if (!instances.has(d)) instances.set(d, workload.setup(d));
  const instance = instances.get(devices[0]!)!;
  const t0 = performance.now();
  const progress: RenderProgress = { framesDone: 0, chunksDone: 0, elapsedMs: 0, sinkActiveMs: 0, sinkInFlight: 0 };
  let activeSince = 0;
  // When the pipeline last saw a slot released (the sink's own release() or its write settling,
  // whichever came first, as the pipeline counts it) and when the last write settled.
  let lastRelease = 0;
  let lastSettle = 0;
  const write = async (chunk: OutputChunk<FrameRange>): Promise<void> => {
    if (progress.sinkInFlight++ === 0) activeSince = performance.now();
    let releasedAt = 0;
    const tracked: OutputChunk<FrameRange> = {
      ...chunk,
      release: () => {
        if (!releasedAt) releasedAt = performance.now();
        chunk.release();
      },
    };
    try {
      await sink.write(tracked);
    } finally {
      const now = performance.now();
      lastRelease = Math.max(lastRelease, releasedAt || now);
      lastSettle = Math.max(lastSettle, now);
      if (--progress.sinkInFlight === 0) progress.sinkActiveMs += now - activeSince;
      progress.framesDone += framesInChunk(chunk.item, workload.format);
      progress.chunksDone++;
      progress.elapsedMs = now - t0;
      options.onChunk?.({
        ...progress,
        sinkActiveMs: progress.sinkActiveMs + (progress.sinkInFlight ? now - activeSince : 0),
      });
    }
  };
  const shared = {
    outputBytes: workload.outputBytes,
    depth: options.depth ?? 'auto',
    deviceSlots: options.deviceSlots ?? 'auto',
    mode: options.mode ?? 'overlap',
    sink: write,
    sinkConcurrency: sink.concurrency,
    trace: options.trace ?? false,
    label: `render ${workload.name}`,
  } as const;
  const ranges = frameRanges(frames, workload.format.framesPerChunk);
  let stats: PipelineStats | null = null;
  let multi: MultiPipelineStats | null = null;
  let error: unknown = null;
  if (devices.length > 1) {
    const pipeline = createMultiPipeline<FrameRange>(devices, {
      ...shared,
      compute: (chunk) => instances.get(chunk.device)!.compute(chunk),
    });
    try {
      multi = await pipeline.run(ranges, { signal: options.signal });
      stats = multiAsPipelineStats(multi, shared.mode);
    } catch (err) {
      error = err;
    } finally {
      pipeline.close();
    }
  } else {
    const pipeline = createPipeline<FrameRange>(device, { ...shared, compute: (chunk) => instance.compute(chunk) });
    try {
      stats = await pipeline.run(ranges, { signal: options.signal });
    } catch (err) {
      error = err;
    } finally {
      pipeline.close();
    }
  }
  progress.elapsedMs = performance.now() - t0;
  let finalized = false;
  if (error === null) {
    try {
      await sink.close();
      finalized = true;
    } catch (err) {
      error = err;
    }
  } else {
    await sink.abort(error).catch(() => {});
    finalized = true;
  }
  const outputWallMs = stats ? stats.wallMs + Math.max(0, lastSettle - lastRelease) : null;
  return { stats, multi, sink: sink.stats(), progress, error, finalized, outputWallMs };
}
