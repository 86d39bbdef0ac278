// The pipeline's public contract: options a user passes, the chunk the callbacks see, and the
// statistics / timeline a run returns (the profile layer reads these, nothing else).
import type { DeviceBuffer, PinnedBuffer, Stream } from '../core/types.js';

/** 'overlap': the stages run concurrently on the ring; 'serial': one chunk at a time, the baseline. */
export type PipelineMode = 'overlap' | 'serial';

/** What compute() sees for chunk n. */
export interface ComputeChunk<I = unknown> {
  readonly index: number;
  /** Device slot (whose output/input buffers these are), n mod deviceSlots. */
  readonly slot: number;
  /** The compute stream: launch everything for this chunk on it. */
  readonly stream: Stream;
  /** Device buffer the kernel writes (outputBytes). */
  readonly output: DeviceBuffer;
  /** Device buffer holding this chunk's uploaded input (only with inputBytes). */
  readonly input: DeviceBuffer | null;
  /** The item the input iterable produced (or the index when the input is a count). */
  readonly item: I;
}

/** What the sink / chunks() consumer sees for chunk n. */
export interface OutputChunk<I = unknown> {
  readonly index: number;
  /** Ring slot (whose pinned buffer `data` views), n mod depth. */
  readonly slot: number;
  readonly item: I;
  /** Zero-copy view of the pinned slot; valid until release() (the sink: until it settles). */
  readonly data: Uint8Array;
  readonly pinned: PinnedBuffer;
  /** Frees the slot for chunk index + depth. Idempotent; the push-style sink calls it for you. */
  release(): void;
}

/**
 * An input item: with inputBytes, either bytes to upload (copied into the pinned staging slot)
 * or a function that fills the pinned staging view in place (no extra host copy).
 */
export type UploadSource = ArrayBufferView | ((staging: Uint8Array, index: number) => void | Promise<void>);

/** A pipeline's shape: chunk sizes, ring depth, the compute callback and the sink. */
export interface PipelineOptions<I = unknown> {
  /** Bytes each chunk's output occupies on the device and in pinned memory. */
  outputBytes: number;
  /** Bytes of input per chunk; enables the upload (H2D) stream. */
  inputBytes?: number;
  /**
   * Ring slots (pinned output buffers): 1..16, or 'auto' (measured from stage times). How far
   * ahead of the host stage the host may enqueue copies. Default 'auto': starts at double
   * buffering (or what the device's pool holds ready, or what the last run of this chunk size
   * decided; slots beyond double buffering are taken on first use), times chunks 1..3 and resizes
   * once; it grows mid-run only when the run's remaining chunks repay the allocation
   * (docs/design.md). A number takes the whole ring before the first chunk: a ring that does not
   * fit fails the run's set-up.
   */
  depth?: number | 'auto';
  /**
   * Of those, how many have their own device output (and input) buffer: 1..depth, or 'auto'.
   * How far compute may run ahead of the copies. Fewer device buffers than pinned ones keep the
   * ring's device memory within the GPU's L2 cache while the deeper pinned ring rides out host
   * pauses. Default: depth for a number depth; with depth 'auto', what the measured GPU-side cycle
   * needs.
   */
  deviceSlots?: number | 'auto';
  /** 'overlap' (default) or 'serial': the naive one-stream baseline. */
  mode?: PipelineMode;
  /** Enqueue the chunk's kernels on chunk.stream. Must not block on the GPU. */
  compute(chunk: ComputeChunk<I>): void | Promise<void>;
  /** The host stage. The pinned slot is released when the returned promise settles. */
  sink?: (chunk: OutputChunk<I>) => void | Promise<void>;
  /** Chunks allowed in the host stage at once (they still start in order). Default 1. */
  sinkConcurrency?: number;
  /**
   * Reject the run if a sink call has not settled after this many ms: up to 2^31 - 1 (Node's timer
   * limit), or Infinity for no limit. Default: no limit.
   */
  sinkTimeoutMs?: number;
  /** Record per-chunk timing events (costs GPU time; off for headline figures). Default false. */
  trace?: boolean;
  /** Stream priorities: compute, copy, upload. */
  priorities?: { compute?: number; copy?: number; upload?: number };
  label?: string;
}

/** What a run processes: the items of an (async) iterable, one chunk each, or a chunk count. */
export type PipelineInput<I> = Iterable<I> | AsyncIterable<I> | number;

/** Options of one run: an AbortSignal that stops it (it then rejects with the signal's reason). */
export interface RunOptions {
  signal?: AbortSignal;
}

/** Options of one Pipeline.run() or chunks() call. */
export interface PipelineRunOptions extends RunOptions {
  /**
   * Record per-chunk timing events for this run only (stats.timeline, busy fractions), whatever
   * the pipeline's `trace` option: one traced run of a long-lived pipeline.
   */
  trace?: boolean;
}

/**
 * Where a run failed: 'setup' is allocating the ring, streams and events before any chunk runs;
 * the others are the stages every chunk goes through.
 */
export type StageName = 'setup' | 'input' | 'upload' | 'compute' | 'copy' | 'sink';

/** One chunk's spans, all in milliseconds on the host's performance.now() clock. */
export interface ChunkTiming {
  index: number;
  /** The pinned (host) slot. */
  slot: number;
  /** The device slot (out[i]); absent in timelines made before the two rings: the same as slot. */
  deviceSlot?: number;
  upload?: [number, number];
  compute: [number, number];
  copy: [number, number];
  sink: [number, number];
  /** When the host enqueued compute / copy (host clock). */
  enqueuedCompute: number;
  enqueuedCopy: number;
}

/** One stage's share of a run. */
export interface StageStats {
  /** Σ busy time of the stage (ms). GPU stages are null without trace (they need timing events). */
  busyMs: number | null;
}

/** What a run measured: chunks, bytes, wall, each stage's busy time, the ring it used, the bottleneck. */
export interface PipelineStats {
  mode: PipelineMode;
  /** Ring slots (pinned buffers) the run ended with. */
  depth: number;
  /** Of those, slots with their own device buffers. */
  deviceSlots: number;
  chunks: number;
  bytesOut: number;
  bytesIn: number;
  wallMs: number;
  stages: Record<'upload' | 'compute' | 'copy' | 'sink', StageStats>;
  /** argmax of busy time, when known. */
  bottleneck: 'upload' | 'compute' | 'copy' | 'sink' | null;
  /** ideal / wall with ideal = max(Σ stage busy); null unless every stage's busy time is known. */
  efficiency: number | null;
  /** bytesOut / Σ copy busy, and bytesOut / wall (bytes per second). */
  copyThroughput: { busy: number | null; wall: number };
  /** Present with trace: true. */
  timeline?: ChunkTiming[];
  /** Why 'auto' chose the depth it did. */
  depthReason?: string;
}
