// The multi-device pipeline's public contract: the same options as one device's pipeline, chunks
// that say which device they landed on, and statistics aggregated over the devices.
import type { Device } from './device.js';
import type { ComputeChunk, OutputChunk, PipelineOptions, PipelineStats, StageName } from './types.js';

/** What compute() sees: `index` is the GLOBAL chunk index; stream and buffers are the device's. */
export interface MultiComputeChunk<I = unknown> extends ComputeChunk<I> {
  /** The device this chunk landed on (compile kernels once per device, look them up here). */
  readonly device: Device;
  /** Position of that device in the list given to createMultiPipeline (two entries may share a Device). */
  readonly deviceIndex: number;
}

/** What the sink sees, in global order: `index` is the global chunk index. */
export interface MultiOutputChunk<I = unknown> extends OutputChunk<I> {
  readonly device: Device;
  readonly deviceIndex: number;
}

/** A multi-device pipeline's shape: PipelineOptions with a compute() that also gets the chunk's device. */
export interface MultiPipelineOptions<I = unknown> extends Omit<PipelineOptions<I>, 'compute' | 'sink'> {
  compute(chunk: MultiComputeChunk<I>): void | Promise<void>;
  /** Receives every chunk exactly once, in global order; its pinned slot is freed when it settles. */
  sink?: (chunk: MultiOutputChunk<I>) => void | Promise<void>;
  /**
   * Chunks one device may hold between taking its input and the sink releasing its output.
   * A device asks for its next input only below this, so inputs go to whichever device frees a
   * slot first and a slow device does not hoard chunks the others must wait for in the ordered
   * output. Default: depth + 1 for a numeric depth (one chunk queued behind the ring), 'ring'
   * for depth 'auto' (only the ring's own bound, ≤ depth + deviceSlots + 1, since the ring may grow).
   */
  lookahead?: number | 'ring';
}

/** One device's share of a multi-device run. */
export interface DeviceShare {
  deviceIndex: number;
  ordinal: number;
  name: string;
  chunks: number;
  /** chunks / all chunks. */
  share: number;
  /**
   * The device pipeline's own statistics. Its 'sink' stage is the time its chunks spent in the
   * shared ordered stage (waiting for their turn included), not the sink alone. Its timeline
   * (with trace) is indexed by global chunk index.
   */
  stats: PipelineStats;
  /** The device pipeline's wall time (ms), from its start to its last chunk's release. */
  wallMs: number;
  /**
   * max(Σ upload, Σ compute, Σ copy busy) / the device's wall time: its overlap efficiency with
   * the shared sink left out (that stage's time includes waiting for other devices); null
   * without trace.
   */
  efficiency: number | null;
  /** The same busy time / the whole run's wall time; null without trace. */
  gpuBusyFraction: number | null;
  /** The device's busiest GPU stage (with trace). */
  busiestStage: 'upload' | 'compute' | 'copy' | null;
  /** Time the ordered output stood idle waiting for this device's next chunk (ms). */
  waitedOnMs: number;
  /** Time this device waited for a free lookahead slot, its chunks held up behind others (ms). */
  waitedForSlotMs: number;
}

export type MultiBottleneckStage = StageName | 'device' | null;

/** What held a multi-device run back (a stage, a device, or nothing the figures can tell) and why. */
export interface MultiBottleneck {
  /**
   * 'sink': the host stage was busy nearly all the time; 'copy': every device's D2H was
   * (PCIe: the cards' links or the host's shared lanes); 'compute' / 'upload': that GPU stage
   * on every device (compute-bound is the goal); 'device': one device held the others back;
   * 'input': waiting for the input iterable; null: nothing stood out (latency-bound or untraced).
   */
  stage: MultiBottleneckStage;
  /** deviceIndex of the device named, when one is. */
  device: number | null;
  /** The measurement behind the verdict, in words. */
  reason: string;
}

/** A multi-device run's totals, each device's share and statistics, and its bottleneck. */
export interface MultiPipelineStats {
  /** Pipelines (entries of the device list). */
  devices: number;
  chunks: number;
  bytesOut: number;
  bytesIn: number;
  /** From the start of the run to the sink's last release (host clock, ms). */
  wallMs: number;
  /** bytesOut / wall (bytes per second). */
  bytesPerSecond: number;
  chunksPerSecond: number;
  sink: { busyMs: number; concurrency: number; busyFraction: number };
  /** Time spent waiting for the input iterable's next item (ms). */
  inputWaitMs: number;
  /** Chunks waiting for their turn in the ordered output: the most at once, and Σ their wait. */
  reorder: { maxHeld: number; waitMs: number };
  lookahead: number | 'ring';
  perDevice: DeviceShare[];
  bottleneck: MultiBottleneck;
}
