// An in-process Device for CI and for users' own tests: virtual clock (see fake-clock.ts for how
// it relates to real time), one compute engine and N copy engines, kernels as JS functions over
// ArrayBuffers, copies with a bandwidth and a latency, injectable faults and memory accounting.
// A test double, not a simulator to tune: real figures come from the GPU.
import { DevicePool, type ReserveOptions } from '../core/pool.js';
import type {
  ArgType,
  CompileOptions,
  CopyOptions,
  DeviceBuffer,
  DeviceProperties,
  Event,
  EventOptions,
  HostOrDevice,
  KernelArg,
  MemoryInfo,
  PinnedBuffer,
  Program,
  Stream,
  StreamOptions,
} from '../core/types.js';
import type { Device } from '../pipeline/device.js';
import { CudaError } from '../cuda/errors.js';
import { formatBytes } from '../util/format.js';
import { UsageError } from '../util/errors.js';
import { FakeClock, type FakeClockMode } from './fake-clock.js';
import {
  FakeKernel,
  FakeProgram,
  type Dim3,
  type FakeKernelArg,
  type FakeKernelCost,
  type FakeKernelDef,
  type FakeKernelFn,
} from './fake-kernel.js';
import { FakeDeviceBuffer, FakeEvent, FakePinnedBuffer, FakeStream, type FakeHost } from './fake-resources.js';
import { createPipeline, type Pipeline } from '../pipeline/pipeline.js';
import type { PipelineOptions } from '../pipeline/types.js';

export type CopyDirection = 'HtoD' | 'DtoH' | 'DtoD' | 'HtoH';
/**
 * Calls failNext() can fail: launches, copies (all, or one direction), device and pinned
 * allocations, stream and event creation, and waiting for an event (completion() rejects).
 */
export type FakeFaultOp =
  'launch' | 'copy' | 'copyHtoD' | 'copyDtoH' | 'alloc' | 'pinnedAlloc' | 'createStream' | 'createEvent' | 'completion';

export interface FakeDeviceOptions {
  name?: string;
  ordinal?: number;
  /** Device memory the fake pretends to have (default 80 GiB; nothing is reserved up front). */
  totalMemory?: number;
  /** Copy engines (default 2: H2D on the first, D2H on the second, as on current data-centre GPUs). */
  copyEngines?: number;
  /** Copy bandwidth in bytes per virtual ms (default 50e6, i.e. 50 GB/s). */
  copyBytesPerMs?: number;
  /** Fixed cost of each copy in virtual ms (default 0.002). */
  copyLatencyMs?: number;
  /** Overrides the copy cost model, e.g. to add random delays in tests. */
  copyCostMs?: (direction: CopyDirection, bytes: number) => number;
  /** Cost of a kernel defined without one (virtual ms, default 0.01). */
  defaultKernelCostMs?: number;
  /**
   * 'realtime' (default): the virtual clock catches up with real time, so host-side delays (a
   * slow sink) show as GPU idle time. 'virtual': real time never enters, so every run of the same
   * calls gives the same virtual times (benchmarks of the tooling, reproducible figures).
   */
  clock?: FakeClockMode;
}

export interface FakeLiveResources {
  streams: number;
  events: number;
  deviceBuffers: number;
  pinnedBuffers: number;
  deviceBytes: number;
  pinnedBytes: number;
}

const ADDRESS_BASE = 0x7f00_0000_0000n;

/**
 * A Device with no GPU: the same object model and pipeline() over host memory, JS kernels
 * (defineKernel) and a virtual clock, with fault injection, so code and tests run anywhere.
 */
export class FakeDevice implements Device, FakeHost {
  readonly backend = 'fake' as const;
  readonly ordinal: number;
  readonly properties: DeviceProperties;
  readonly clock: FakeClock;
  /** With the virtual clock, host-side times are virtual too: host work takes no time. */
  readonly hostNow?: () => number;
  closed = false;
  private readonly opts: Required<Omit<FakeDeviceOptions, 'copyCostMs' | 'name' | 'ordinal' | 'clock'>> &
    Pick<FakeDeviceOptions, 'copyCostMs'>;
  private readonly kernels = new Map<string, FakeKernelDef>();
  private readonly live = new Set<object>();
  private nextAddress = ADDRESS_BASE;
  private usedDevice = 0;
  private faults: { op: FakeFaultOp; error: Error | undefined; skip: number }[] = [];
  private kernelsAbandoned = false;
  /**
   * The same pool as a CUDA device's: what liveResources() counts includes what it holds idle.
   * With the virtual clock, allocating takes no time (real time never enters).
   */
  readonly pool: DevicePool;

  constructor(options: FakeDeviceOptions = {}) {
    const copyEngines = options.copyEngines ?? 2;
    if (!Number.isInteger(copyEngines) || copyEngines < 1)
      throw new UsageError(`copyEngines must be a positive integer, got ${copyEngines}`);
    this.opts = {
      totalMemory: options.totalMemory ?? 80 * 1024 ** 3,
      copyEngines,
      copyBytesPerMs: options.copyBytesPerMs ?? 50e6,
      copyLatencyMs: options.copyLatencyMs ?? 0.002,
      copyCostMs: options.copyCostMs,
      defaultKernelCostMs: options.defaultKernelCostMs ?? 0.01,
    };
    this.ordinal = options.ordinal ?? 0;
    this.clock = new FakeClock(copyEngines, options.clock ?? 'realtime');
    this.pool = new DevicePool(this, options.clock === 'virtual' ? () => 0 : undefined);
    if (options.clock === 'virtual') this.hostNow = () => this.clock.now;
    this.properties = {
      ordinal: this.ordinal,
      name: options.name ?? 'tandem fake device',
      computeCapability: [9, 0],
      smCount: 132,
      asyncEngineCount: copyEngines,
      l2CacheBytes: 50 * 1024 * 1024, // an H100's, like the rest of these figures
      totalMemory: this.opts.totalMemory,
      pciBusId: '0000:00:00.0',
      pcie: null,
    };
  }

  get device(): Device {
    return this;
  }

  // ---- test controls ---------------------------------------------------------------------

  /**
   * Defines a kernel that fake.compile(...).getKernel(name) returns. Pointer arguments reach `fn`
   * as a Uint8Array over the buffer's whole memory (from the address, for bigint pointers).
   * `cost` is virtual ms per launch. A throwing kernel faults the device like an illegal address.
   */
  defineKernel(name: string, signature: readonly ArgType[], fn: FakeKernelFn, cost?: FakeKernelCost): void {
    this.kernels.set(name, { name, signature: [...signature], fn, cost });
  }

  /**
   * The next matching call (after `skip` matching calls succeed) throws `error` synchronously,
   * as a driver call returning an error code would; for 'completion', the promise rejects with
   * it instead, as a failed cuEventSynchronize would. Not sticky: later calls work.
   */
  failNext(op: FakeFaultOp, error?: Error, options: { skip?: number } = {}): void {
    this.faults.push({ op, error, skip: options.skip ?? 0 });
  }

  /** Faults the device now, as a kernel hitting an illegal address would: sticky. */
  injectStickyFault(detail = 'injected by the test'): void {
    this.clock.setFault(
      new CudaError(
        700,
        'CUDA_ERROR_ILLEGAL_ADDRESS',
        'fake device',
        'an illegal memory access was encountered',
        detail,
      ),
    );
  }

  /**
   * From now on, JS kernels do not run: queued launches skip their function and a kernel running
   * in slices stops at its next slice; each still takes its virtual time, so streams, events and
   * synchronize() behave as before, but kernel outputs are left unfinished. For a run that is being
   * thrown away (Ctrl-C of `tandem render --fake`), so its teardown does not wait for seconds of
   * JS per frame. Sticky: open a new device to compute again.
   */
  abandonKernels(): void {
    this.kernelsAbandoned = true;
  }

  /** Open streams, events and buffers: compare before and after to find leaks. */
  liveResources(): FakeLiveResources {
    const r: FakeLiveResources = {
      streams: 0,
      events: 0,
      deviceBuffers: 0,
      pinnedBuffers: 0,
      deviceBytes: 0,
      pinnedBytes: 0,
    };
    for (const x of this.live) {
      if (x instanceof FakeStream) r.streams++;
      else if (x instanceof FakeEvent) r.events++;
      else if (x instanceof FakeDeviceBuffer) {
        r.deviceBuffers++;
        r.deviceBytes += x.byteLength;
      } else if (x instanceof FakePinnedBuffer) {
        r.pinnedBuffers++;
        r.pinnedBytes += x.byteLength;
      }
    }
    return r;
  }

  /** Virtual ms since the device was made. */
  get now(): number {
    return this.clock.now;
  }

  // ---- FakeHost ------------------------------------------------------------------------------

  checkUsable(what: string): void {
    if (this.closed) throw new UsageError(`fake device used after close() (${what})`);
    if (this.clock.fault) throw this.clock.fault;
  }

  failingCompletion(): Error | null {
    try {
      this.maybeFail('completion');
      return null;
    } catch (err) {
      return err as Error;
    }
  }

  forget(resource: object): void {
    if (!this.live.delete(resource)) return;
    if (resource instanceof FakeDeviceBuffer) this.usedDevice -= resource.byteLength;
  }

  // ---- Device ----------------------------------------------------------------------------------

  memoryInfo(): MemoryInfo {
    this.checkUsable('memoryInfo');
    return { free: this.opts.totalMemory - this.usedDevice, total: this.opts.totalMemory };
  }

  reserve(options: ReserveOptions): void {
    this.checkUsable('reserve');
    this.pool.reserve(options);
  }

  createStream(options?: StreamOptions): Stream {
    this.checkUsable('createStream');
    this.maybeFail('createStream');
    return this.track(new FakeStream(this, options));
  }

  createEvent(options?: EventOptions): Event {
    this.checkUsable('createEvent');
    this.maybeFail('createEvent');
    return this.track(new FakeEvent(this, options));
  }

  allocDevice(bytes: number, label = 'device buffer'): DeviceBuffer {
    this.checkUsable('allocDevice');
    checkSize(bytes, 'allocDevice');
    this.maybeFail('alloc');
    const free = this.opts.totalMemory - this.usedDevice;
    if (bytes > free) {
      throw new CudaError(
        2,
        'CUDA_ERROR_OUT_OF_MEMORY',
        'cuMemAlloc_v2',
        'out of memory',
        `${formatBytes(bytes)} asked, ${formatBytes(free)} free, '${label}'`,
      );
    }
    const ptr = this.nextAddress;
    this.nextAddress += BigInt(Math.ceil(Math.max(bytes, 1) / 256) * 256 + 256);
    this.usedDevice += bytes;
    return this.track(new FakeDeviceBuffer(this, label, ptr, new Uint8Array(bytes)));
  }

  allocPinned(bytes: number, label = 'pinned buffer'): PinnedBuffer {
    this.checkUsable('allocPinned');
    checkSize(bytes, 'allocPinned');
    this.maybeFail('pinnedAlloc');
    return this.track(new FakePinnedBuffer(this, label, new Uint8Array(bytes)));
  }

  copy(stream: Stream, dst: HostOrDevice, src: HostOrDevice, options: CopyOptions = {}): void {
    this.checkUsable('copy');
    const s = this.ownStream(stream, 'copy');
    const direction: CopyDirection =
      `${src.kind === 'device' ? 'D' : 'H'}to${dst.kind === 'device' ? 'D' : 'H'}` as CopyDirection;
    const from = this.memoryOf(src, 'copy source');
    const to = this.memoryOf(dst, 'copy destination');
    const srcOffset = options.srcOffset ?? 0;
    const dstOffset = options.dstOffset ?? 0;
    const bytes = options.bytes ?? from.byteLength - srcOffset;
    if (
      !Number.isInteger(bytes) ||
      bytes < 0 ||
      !Number.isInteger(srcOffset) ||
      srcOffset < 0 ||
      !Number.isInteger(dstOffset) ||
      dstOffset < 0
    ) {
      throw new UsageError(
        `copy: bytes and offsets must be non-negative integers (bytes ${bytes}, srcOffset ${srcOffset}, dstOffset ${dstOffset})`,
      );
    }
    if (srcOffset + bytes > from.byteLength)
      throw new UsageError(
        `copy: ${formatBytes(bytes)} at offset ${srcOffset} run past the source '${src.label}' (${formatBytes(from.byteLength)})`,
      );
    if (dstOffset + bytes > to.byteLength)
      throw new UsageError(
        `copy: ${formatBytes(bytes)} at offset ${dstOffset} do not fit the destination '${dst.label}' ` +
          `(${formatBytes(to.byteLength)}); pass { bytes } or a larger buffer`,
      );
    this.maybeFail('copy', direction === 'HtoD' ? 'copyHtoD' : direction === 'DtoH' ? 'copyDtoH' : undefined);
    const engines = this.opts.copyEngines;
    const engine = direction === 'DtoH' ? 1 + Math.min(1, engines - 1) : direction === 'DtoD' ? 0 : 1;
    const cost = this.opts.copyCostMs
      ? this.opts.copyCostMs(direction, bytes)
      : this.opts.copyLatencyMs + bytes / this.opts.copyBytesPerMs;
    // The copy reads its source when it executes (at its end), so a missing barrier corrupts.
    s.enqueue(`copy${direction} ${formatBytes(bytes)}`, engine, cost, {
      onFinish: () => to.set(from.subarray(srcOffset, srcOffset + bytes), dstOffset),
    });
  }

  memset(stream: Stream, dst: DeviceBuffer, value: number, options: { bytes?: number; offset?: number } = {}): void {
    this.checkUsable('memset');
    const s = this.ownStream(stream, 'memset');
    const mem = this.memoryOf(dst, 'memset destination');
    const offset = options.offset ?? 0;
    const bytes = options.bytes ?? mem.byteLength - offset;
    if (offset < 0 || bytes < 0 || offset + bytes > mem.byteLength)
      throw new UsageError(
        `memset: ${bytes} bytes at offset ${offset} run past '${dst.label}' (${formatBytes(mem.byteLength)})`,
      );
    if (!Number.isInteger(value) || value < 0 || value > 255)
      throw new UsageError(`memset: value must be a byte (0..255), got ${value}`);
    s.enqueue(`memset ${formatBytes(bytes)}`, 0, this.opts.copyLatencyMs + bytes / (this.opts.copyBytesPerMs * 10), {
      onStart: () => void mem.fill(value, offset, offset + bytes),
    });
  }

  compile(source: string, options: CompileOptions = {}): Program {
    this.checkUsable('compile');
    if (typeof source !== 'string') throw new UsageError('compile: source must be a string of CUDA C++');
    for (const [name, sig] of Object.entries(options.kernels ?? {})) {
      const def = this.kernels.get(name);
      if (def && (def.signature.length !== sig.length || sig.some((t, i) => t !== def.signature[i]))) {
        throw new UsageError(
          `compile: kernel ${name} is declared (${sig.join(', ')}) but was defined on the fake device as (${def.signature.join(', ')})`,
        );
      }
    }
    return new FakeProgram(this.kernels, this, options.name ?? 'program');
  }

  synchronize(): Promise<void> {
    try {
      this.checkUsable('synchronize');
    } catch (err) {
      return Promise.reject(err);
    }
    const tails: import('./fake-clock.js').FakeOp[] = [];
    for (const x of this.live) if (x instanceof FakeStream && x.tail) tails.push(x.tail);
    for (const t of this.closedTails) tails.push(t);
    this.closedTails = [];
    return this.clock.whenDone(tails);
  }

  /** The overlap pipeline on this device: `createPipeline(this, options)`. */
  pipeline<I = number>(options: PipelineOptions<I>): Pipeline<I> {
    return createPipeline(this, options);
  }

  hostAccess(buffer: PinnedBuffer, access: 'read' | 'write', label?: string): void {
    if (!(buffer instanceof FakePinnedBuffer))
      throw new UsageError(`hostAccess(${label ?? access}): the buffer is not pinned memory of this device`);
    if (buffer.closed)
      throw new UsageError(`hostAccess(${label ?? access}): pinned buffer '${buffer.label}' is closed`);
  }

  close(): void {
    if (this.closed) return;
    this.pool.close();
    for (const x of [...this.live]) (x as { close(): void }).close();
    this.closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.closed && !this.clock.fault) await this.synchronize().catch(() => {});
    this.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // ---- internals -------------------------------------------------------------------------------

  /** Work of closed streams still runs; device.synchronize() must still wait for it. */
  private closedTails: import('./fake-clock.js').FakeOp[] = [];

  launch(kernel: FakeKernel, stream: FakeStream, grid: Dim3, block: Dim3, args: KernelArg[]): void {
    this.maybeFail('launch');
    const def = kernel.def;
    const converted: FakeKernelArg[] = args.map((a, i) =>
      def.signature[i] === 'pointer' ? this.pointerArg(a, kernel.name, i) : (a as number | bigint),
    );
    const cost = typeof def.cost === 'function' ? def.cost(...converted) : (def.cost ?? this.opts.defaultKernelCostMs);
    if (!(cost >= 0))
      throw new UsageError(`kernel ${kernel.name}: its cost function returned ${cost}; return virtual ms ≥ 0`);
    stream.enqueue(`kernel ${kernel.name}`, 0, cost, {
      onStart: () => {
        if (this.kernelsAbandoned) return;
        return runKernelFn(def.fn({ grid, block }, ...converted), () => this.kernelsAbandoned);
      },
    });
  }

  private pointerArg(a: KernelArg, kernel: string, i: number): Uint8Array {
    if (a instanceof FakeDeviceBuffer) return a.memory(`argument ${i} of ${kernel}`);
    const addr = a as bigint;
    for (const x of this.live) {
      if (x instanceof FakeDeviceBuffer && addr >= x.ptr && addr < x.ptr + BigInt(Math.max(x.byteLength, 1))) {
        return x.mem.subarray(Number(addr - x.ptr));
      }
    }
    throw new UsageError(
      `kernel ${kernel}: argument ${i} (0x${addr.toString(16)}) is not inside any live device buffer`,
    );
  }

  private memoryOf(b: HostOrDevice, what: string): Uint8Array {
    if (b instanceof FakeDeviceBuffer || b instanceof FakePinnedBuffer) return b.memory(what);
    throw new UsageError(
      `${what} '${(b as HostOrDevice).label}' is not memory of this fake device (pageable memory is not supported: use allocPinned)`,
    );
  }

  private ownStream(stream: Stream, what: string): FakeStream {
    if (!(stream instanceof FakeStream) || stream.device !== this)
      throw new UsageError(`${what}: the stream belongs to another device`);
    return stream;
  }

  private track<T extends object>(x: T): T {
    this.live.add(x);
    if (x instanceof FakeStream) {
      // Keep the stream's last op reachable for device.synchronize() after the stream closes.
      const close = x.close.bind(x);
      x.close = () => {
        if (!x.closed && x.tail && x.tail.state !== 'done') {
          this.closedTails = this.closedTails.filter((op) => op.state !== 'done');
          this.closedTails.push(x.tail);
        }
        close();
      };
    }
    return x;
  }

  private maybeFail(op: FakeFaultOp, alias?: FakeFaultOp): void {
    const k = this.faults.findIndex((f) => f.op === op || f.op === alias);
    if (k < 0) return;
    const f = this.faults[k]!;
    if (f.skip > 0) {
      f.skip--;
      return;
    }
    this.faults.splice(k, 1);
    throw f.error ?? defaultFault(f.op);
  }
}

function defaultFault(op: FakeFaultOp): Error {
  switch (op) {
    case 'launch':
      return new CudaError(
        701,
        'CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES',
        'cuLaunchKernel',
        'too many resources requested for launch',
        'injected by fake.failNext',
      );
    case 'alloc':
      return new CudaError(
        2,
        'CUDA_ERROR_OUT_OF_MEMORY',
        'cuMemAlloc_v2',
        'out of memory',
        'injected by fake.failNext',
      );
    case 'pinnedAlloc':
      return new CudaError(
        2,
        'CUDA_ERROR_OUT_OF_MEMORY',
        'cuMemHostAlloc',
        'out of memory',
        'injected by fake.failNext',
      );
    case 'createStream':
    case 'createEvent':
      return new CudaError(
        2,
        'CUDA_ERROR_OUT_OF_MEMORY',
        op === 'createStream' ? 'cuStreamCreateWithPriority' : 'cuEventCreate',
        'out of memory',
        'injected by fake.failNext',
      );
    case 'completion':
      return new CudaError(
        400,
        'CUDA_ERROR_INVALID_HANDLE',
        'cuEventSynchronize',
        'invalid resource handle',
        'injected by fake.failNext',
      );
    default:
      return new CudaError(
        1,
        'CUDA_ERROR_INVALID_VALUE',
        op === 'copyHtoD' ? 'cuMemcpyHtoDAsync_v2' : 'cuMemcpyDtoHAsync_v2',
        'invalid argument',
        'injected by fake.failNext',
      );
  }
}

/** Real ms a sliced kernel runs before it yields to the event loop: a signal waits at most this. */
const KERNEL_SLICE_MS = 20;

/**
 * A kernel function that returns an iterator (a generator that yields between rows) runs in
 * slices of about KERNEL_SLICE_MS between event-loop turns, so a long JS kernel does not hold up
 * Ctrl-C, timers or I/O; the clock keeps the op from ending until the last slice has run.
 */
function runKernelFn(result: unknown, abandoned: () => boolean): void | Promise<void> {
  if (typeof (result as Iterator<unknown> | null)?.next !== 'function') return;
  const it = result as Iterator<unknown>;
  return new Promise<void>((resolve, reject) => {
    const slice = (): void => {
      try {
        const t0 = performance.now();
        while (performance.now() - t0 < KERNEL_SLICE_MS) {
          if (abandoned()) return resolve();
          if (it.next().done) return resolve();
        }
        setImmediate(slice);
      } catch (err) {
        reject(err);
      }
    };
    slice();
  });
}

function checkSize(bytes: number, what: string): void {
  // As on a real device: cuMemAlloc of 0 bytes is CUDA_ERROR_INVALID_VALUE, so refuse it up front.
  if (!Number.isSafeInteger(bytes) || bytes <= 0)
    throw new UsageError(`${what}: size must be a positive integer of bytes, got ${bytes}`);
}

/** Shorthand: a fake device with options. */
export function createFakeDevice(options?: FakeDeviceOptions): FakeDevice {
  return new FakeDevice(options);
}
