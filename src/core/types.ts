// The object model's surface, as the pipeline, sinks, workloads, the hazard checker and the
// fake device see it. The real CUDA implementation (src/core/*.ts over src/cuda/) and the fake
// device (src/testing/) both implement these interfaces, so everything above the object model
// runs unchanged on either. Names follow CUDA's vocabulary.
import type { DevicePool, ReserveOptions } from './pool.js';

/** A resource with an idempotent close(); using it after close() throws a clear error. */
export interface Resource extends Disposable {
  readonly closed: boolean;
  close(): void;
}

/** createStream() options: non-blocking, priority, a label for messages. */
export interface StreamOptions {
  /** Non-blocking (does not synchronise with the legacy default stream). Default true. */
  nonBlocking?: boolean;
  /** Lower numbers are higher priority, as in CUDA; clamped to the device's range. Default 0. */
  priority?: number;
  /** A name for traces and error messages, e.g. "compute", "copy". */
  label?: string;
}

/** A CUDA stream: work on it runs in order; work on different streams may overlap. */
export interface Stream extends Resource {
  readonly device: DeviceCore;
  readonly label: string;
  readonly priority: number;
  /** Work submitted to this stream after this call waits until `event`'s last record completes. */
  waitEvent(event: Event): void;
  /** Resolves once all work submitted so far has completed; never blocks the event loop. */
  synchronize(): Promise<void>;
}

/** createEvent() options: timing (for elapsedMs) and a label for messages. */
export interface EventOptions {
  /** Record timestamps so elapsedMs() works. Costs GPU time per record: off by default. */
  timing?: boolean;
  label?: string;
}

/** A CUDA event: recorded on a stream, waited on by another stream or awaited by the host, never blocking. */
export interface Event extends Resource {
  readonly device: DeviceCore;
  readonly label: string;
  readonly timing: boolean;
  /** Captures the work submitted to `stream` so far; completes when that work has. */
  record(stream: Stream): void;
  /** True once the last record has completed (true for a never-recorded event, as in CUDA). */
  isDone(): boolean;
  /**
   * Resolves when the last record completes. Never blocks the event loop and does not occupy
   * libuv's thread pool (which fs writes share). Rejects with a CudaError if the device faults.
   */
  completion(): Promise<void>;
  /**
   * completion() for hot loops, without a promise: calls onDone() once the last record
   * completes, or onError(err) on a fault; at once (synchronously) if it already has. Optional:
   * callers fall back to completion() where a backend lacks it. A CUDA event keeps one such
   * wait allocation-free; a second one at the same time goes through completion().
   */
  whenComplete?(onDone: () => void, onError: (err: unknown) => void): void;
  /** Milliseconds between `start`'s record and this event's record (both timing events). */
  elapsedMs(start: Event): number;
}

/** Device memory (cuMemAlloc): a kernel argument and a copy source or target; freed by close(). */
export interface DeviceBuffer extends Resource {
  readonly kind: 'device';
  readonly device: DeviceCore;
  readonly byteLength: number;
  /** The device address (CUdeviceptr) on a real device; an opaque id on the fake one. */
  readonly ptr: bigint;
  readonly label: string;
}

/** Page-locked host memory: the only host memory copies use, readable from JS without a copy. */
export interface PinnedBuffer extends Resource {
  readonly kind: 'pinned';
  readonly device: DeviceCore;
  readonly byteLength: number;
  readonly label: string;
  /** Zero-copy view of the page-locked memory. Invalid after close(). */
  readonly bytes: Uint8Array;
  /** Zero-copy Buffer over the same memory. */
  asBuffer(): Buffer;
  /** Zero-copy typed view, e.g. view(Float32Array). */
  view<T extends ArrayBufferView>(ctor: TypedArrayConstructor<T>, byteOffset?: number, length?: number): T;
}

/** A typed array class (Uint8Array, Float32Array…), for PinnedBuffer.view(). */
export type TypedArrayConstructor<T> = {
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): T;
  readonly BYTES_PER_ELEMENT: number;
};

/** Either end of a copy: device memory or pinned host memory. */
export type HostOrDevice = DeviceBuffer | PinnedBuffer;

/** A part of a copy: bytes and offsets into source and destination (checked before the driver sees them). */
export interface CopyOptions {
  /** Bytes to copy; default: the whole source (which must then fit the destination). */
  bytes?: number;
  srcOffset?: number;
  dstOffset?: number;
  /** The pipeline chunk this copy belongs to: the hazard checker names it in its reports. */
  chunk?: number;
}

/** Kernel argument types, as declared in a kernel signature. */
export type ArgType = 'pointer' | 'u32' | 'i32' | 'u64' | 'i64' | 'f32' | 'f64';
/** Any kernel argument: a device buffer or raw device address, or a number / bigint scalar. */
export type KernelArg = DeviceBuffer | bigint | number;

/** What launch() accepts for one declared argument: a buffer or raw address, a bigint or number for 64-bit. */
export type KernelArgOf<T extends ArgType> = T extends 'pointer'
  ? DeviceBuffer | bigint
  : T extends 'u64' | 'i64'
    ? bigint | number
    : number;

/** launch()'s argument list for a signature: a tuple for a literal signature, else any KernelArg list. */
export type KernelArgsOf<S extends readonly ArgType[]> = { -readonly [K in keyof S]: KernelArgOf<S[K]> };

/** Kernel name → signature, as given to compile(). */
export type KernelSignatures = Readonly<Record<string, readonly ArgType[]>>;

/** A grid or block size: x, or [x], [x, y], [x, y, z]. */
export type Dim = number | readonly [number] | readonly [number, number] | readonly [number, number, number];

/** How a kernel launches: grid and block, dynamic shared memory, and what the hazard checker needs. */
export interface LaunchOptions {
  grid: Dim;
  block: Dim;
  sharedMemBytes?: number;
  /**
   * For the hazard checker: buffers the kernel only reads / only writes. Buffer arguments not
   * listed in either count as read and written.
   */
  reads?: readonly DeviceBuffer[];
  writes?: readonly DeviceBuffer[];
  /** The pipeline chunk this launch belongs to: the hazard checker names it in its reports. */
  chunk?: number;
}

/**
 * A kernel of a compiled program. `S` is its declared signature: with a literal one (compile's
 * `kernels`, or getKernel's second argument) launch() is typed argument by argument.
 */
export interface Kernel<S extends readonly ArgType[] = readonly ArgType[]> {
  readonly name: string;
  readonly signature: readonly ArgType[];
  /** Enqueues the kernel on `stream`. Arguments are checked against the signature at run time too. */
  launch(stream: Stream, options: LaunchOptions, ...args: KernelArgsOf<S>): void;
}

/** How compile() builds a program: NVRTC options, the kernels' signatures, a file name for errors. */
export interface CompileOptions<K extends KernelSignatures = KernelSignatures> {
  /** Extra NVRTC options, e.g. ['-DN=4', '--use_fast_math']. */
  options?: readonly string[];
  /** Kernel name → signature. Names are looked up with getKernel(name). */
  kernels?: K;
  /** File name shown in compile errors. */
  name?: string;
}

/** Compiled device code; getKernel() types a kernel's launch() by the signature declared for it. */
export interface Program<K extends KernelSignatures = KernelSignatures> extends Resource {
  getKernel<N extends keyof K & string>(name: N): Kernel<K[N]>;
  getKernel<const S extends readonly ArgType[]>(name: string, signature: S): Kernel<S>;
}

/** Free and total device memory in bytes (cuMemGetInfo). */
export interface MemoryInfo {
  free: number;
  total: number;
}

/** What the driver says about a device: name, compute capability, SMs, memory, copy engines, PCIe. */
export interface DeviceProperties {
  ordinal: number;
  name: string;
  computeCapability: [number, number];
  smCount: number;
  asyncEngineCount: number;
  /** L2 cache size in bytes ('auto' depth keeps the ring within half of it where it can). */
  l2CacheBytes: number;
  totalMemory: number;
  pciBusId: string;
  /** From NVML when present, else null. */
  pcie: { generation: number; width: number; maxGeneration: number; maxWidth: number } | null;
}

/**
 * The object model of one GPU (or the fake one): streams, events, buffers, copies, programs.
 * The pipeline layer's `Device` adds `pipeline()`; everything below the pipeline needs only this.
 */
export interface DeviceCore extends Resource, AsyncDisposable {
  readonly ordinal: number;
  readonly properties: DeviceProperties;
  /** 'cuda' for a real GPU, 'fake' for the test double. */
  readonly backend: 'cuda' | 'fake';
  memoryInfo(): MemoryInfo;
  /**
   * The host clock (ms) a pipeline stamps host-side times with (enqueues, waits, host stages),
   * beside the GPU's event times; performance.now() where absent. The fake device's virtual clock
   * supplies its own, so that its runs' host and GPU times share one base and repeat exactly.
   */
  readonly hostNow?: () => number;
  /**
   * The device's pool of pinned and device buffers, streams and events: every pipeline on the
   * device takes its ring from it and hands it back when a run ends (see core/pool.ts).
   */
  readonly pool: DevicePool;
  /**
   * Allocates pool buffers now (page-locking at start-up), the events their ring slots take and
   * a run's compute and copy streams, so the first runs allocate nothing.
   */
  reserve(options: ReserveOptions): void;
  createStream(options?: StreamOptions): Stream;
  createEvent(options?: EventOptions): Event;
  allocDevice(bytes: number, label?: string): DeviceBuffer;
  allocPinned(bytes: number, label?: string): PinnedBuffer;
  /**
   * Asynchronous copy on `stream`: host→device, device→host or device→device, chosen from the
   * buffer kinds. Sizes and offsets are checked before the driver sees them.
   */
  copy(stream: Stream, dst: HostOrDevice, src: HostOrDevice, options?: CopyOptions): void;
  /** Asynchronous memset of bytes on `stream`. */
  memset(stream: Stream, dst: DeviceBuffer, value: number, options?: { bytes?: number; offset?: number }): void;
  /** CUDA C++ → cubin for this device (cached on disk for real devices). */
  compile<const K extends KernelSignatures = KernelSignatures>(source: string, options?: CompileOptions<K>): Program<K>;
  /** Waits for all work on the device; never blocks the event loop. */
  synchronize(): Promise<void>;
  /**
   * Declares that host code reads or writes `buffer` now. A no-op on a plain device; the hazard
   * checker (checked mode) orders it against stream work. The pipeline calls it when the host
   * fills an upload slot and when the sink takes and releases an output slot. A label that
   * contains "chunk N" lets the checker name the chunk (and catch a slot overwritten before
   * the host read it).
   */
  hostAccess(buffer: PinnedBuffer, access: 'read' | 'write', label?: string): void;
  /**
   * True where hostAccess() labels are read (the hazard checker): a caller in a hot loop builds
   * its label only then.
   */
  readonly readsHostAccessLabels?: boolean;
}
