// CudaDevice: one GPU through its primary context. The factory for every other resource, the
// copies and memsets (direction from the buffer kinds, sizes checked before the driver sees
// them), and the owner of the event waiter. close() closes whatever its children left open.
import { check, initDriver, type Driver } from '../cuda/driver.js';
import { formatBytes } from '../util/format.js';
import { UsageError } from '../util/errors.js';
import { closedError } from './closed.js';
import { cudaHandle } from './handles.js';
import { createWaiter, type EventWaiter } from './completion/index.js';
import { forgetContext, setCurrentContext, type Child, type DeviceContext } from './context.js';
import { CudaDeviceBuffer } from './device-buffer.js';
import { CudaEvent } from './event.js';
import type { LaunchLimits } from './launch-config.js';
import { CudaPinnedBuffer, RegisteredHostBuffer } from './pinned-buffer.js';
import { DevicePool, type ReserveOptions } from './pool.js';
import { CudaProgram } from './program.js';
import { readDeviceProperties, readLaunchLimits } from './properties.js';
import { CudaStream } from './stream.js';
import type {
  CompileOptions,
  CopyOptions,
  DeviceCore,
  DeviceBuffer,
  DeviceProperties,
  EventOptions,
  HostOrDevice,
  MemoryInfo,
  PinnedBuffer,
  Stream,
  StreamOptions,
} from './types.js';

export class CudaDeviceCore implements DeviceCore {
  readonly backend = 'cuda' as const;
  readonly properties: DeviceProperties;
  readonly limits: LaunchLimits;
  readonly #driver: Driver;
  readonly #dev: number;
  readonly #ctx: bigint;
  readonly #waiter: EventWaiter;
  readonly #priorities: { least: number; greatest: number };
  readonly #children = new Set<WeakRef<Child>>();
  readonly #refs = new WeakMap<Child, WeakRef<Child>>();
  readonly #context: DeviceContext;
  #closed = false;
  readonly pool: DevicePool = new DevicePool(this);

  /** Use open() (pipeline/device.ts); this retains the primary context of `ordinal`. */
  constructor(readonly ordinal: number) {
    const d = initDriver();
    this.#driver = d;
    const count = [0];
    check(d.cuDeviceGetCount(count), 'cuDeviceGetCount');
    if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= count[0]!) {
      throw new UsageError(
        `there is no CUDA device ${ordinal}: ${count[0]} visible (ordinals 0..${count[0]! - 1}); check CUDA_VISIBLE_DEVICES or run 'tandem info'`,
      );
    }
    const dev = [0];
    check(d.cuDeviceGet(dev, ordinal), 'cuDeviceGet', `ordinal ${ordinal}`);
    this.#dev = dev[0]!;
    this.properties = readDeviceProperties(d, ordinal, this.#dev);
    this.limits = readLaunchLimits(d, this.#dev);
    const ctx: (bigint | null)[] = [null];
    check(d.cuDevicePrimaryCtxRetain(ctx, this.#dev), 'cuDevicePrimaryCtxRetain', `device ${ordinal}`);
    this.#ctx = ctx[0]!;
    setCurrentContext(d, this.#ctx);
    const least = [0];
    const greatest = [0];
    check(d.cuCtxGetStreamPriorityRange(least, greatest), 'cuCtxGetStreamPriorityRange');
    this.#priorities = { least: least[0]!, greatest: greatest[0]! };
    this.#waiter = createWaiter(d, this.#ctx);

    const self = this;
    this.#context = {
      device: this,
      driver: d,
      ctx: this.#ctx,
      limits: this.limits,
      waiter: this.#waiter,
      assertOpen: () => this.#assertOpen(),
      makeCurrent: () => setCurrentContext(d, self.#ctx),
      adopt: (child) => {
        const ref = new WeakRef(child);
        self.#refs.set(child, ref);
        self.#children.add(ref);
      },
      release: (child) => {
        const ref = self.#refs.get(child);
        if (ref) self.#children.delete(ref);
      },
    };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The CUcontext (the device's primary context), for interop with other CUDA code. */
  get context(): bigint {
    return this.#ctx;
  }

  /** Stream priorities this context accepts: `greatest` (highest priority) ≤ p ≤ `least`. */
  get streamPriorityRange(): { least: number; greatest: number } {
    return { ...this.#priorities };
  }

  memoryInfo(): MemoryInfo {
    this.#use();
    const free = [0];
    const total = [0];
    check(this.#driver.cuMemGetInfo_v2(free, total), 'cuMemGetInfo_v2');
    return { free: Number(free[0]), total: Number(total[0]) };
  }

  reserve(options: ReserveOptions): void {
    this.#use();
    this.pool.reserve(options);
  }

  createStream(options?: StreamOptions): CudaStream {
    this.#use();
    return new CudaStream(this.#context, options, this.#priorities);
  }

  createEvent(options?: EventOptions): CudaEvent {
    this.#use();
    return new CudaEvent(this.#context, options);
  }

  allocDevice(bytes: number, label = ''): CudaDeviceBuffer {
    this.#use();
    checkSize(bytes, 'allocDevice');
    return new CudaDeviceBuffer(this.#context, bytes, label);
  }

  allocPinned(bytes: number, label = ''): CudaPinnedBuffer {
    this.#use();
    checkSize(bytes, 'allocPinned');
    return CudaPinnedBuffer.allocate(this.#context, bytes, label);
  }

  /** Page-locks existing host memory in place (cuMemHostRegister); close() unregisters it. */
  registerHost(memory: ArrayBufferView, label = ''): RegisteredHostBuffer {
    this.#use();
    return RegisteredHostBuffer.register(this.#context, memory, label);
  }

  copy(stream: Stream, dst: HostOrDevice, src: HostOrDevice, options: CopyOptions = {}): void {
    const s = this.#streamHandle(stream, 'copy');
    // The whole-buffer copy of a pipeline runs per chunk: no extent object, no offset BigInts.
    const plain = options.bytes === undefined && options.srcOffset === undefined && options.dstOffset === undefined;
    let bytes: number;
    let srcOffset = 0;
    let dstOffset = 0;
    if (plain && isBuffer(dst) && isBuffer(src) && !dst.closed && !src.closed && src.byteLength <= dst.byteLength) {
      bytes = src.byteLength;
    } else {
      ({ bytes, srcOffset, dstOffset } = copyExtent(dst, src, options));
    }
    if (bytes === 0) return;
    const d = this.#driver;
    let call: string;
    let rc: number;
    if (src.kind === 'pinned' && dst.kind === 'device') {
      call = 'cuMemcpyHtoDAsync_v2';
      rc = d.cuMemcpyHtoDAsync_v2(at(devicePtr(dst), dstOffset), at(hostPtr(src), srcOffset), bytes, s);
    } else if (src.kind === 'device' && dst.kind === 'pinned') {
      call = 'cuMemcpyDtoHAsync_v2';
      rc = d.cuMemcpyDtoHAsync_v2(at(hostPtr(dst), dstOffset), at(devicePtr(src), srcOffset), bytes, s);
    } else if (src.kind === 'device' && dst.kind === 'device') {
      call = 'cuMemcpyDtoDAsync_v2';
      rc = d.cuMemcpyDtoDAsync_v2(at(devicePtr(dst), dstOffset), at(devicePtr(src), srcOffset), bytes, s);
    } else {
      throw new UsageError(
        `copy from pinned '${src.label}' to pinned '${dst.label}' is a host copy: use dst.bytes.set(src.bytes)`,
      );
    }
    if (rc !== 0) check(rc, call, `${formatBytes(bytes)} '${src.label}' → '${dst.label}' on '${stream.label}'`);
  }

  /**
   * D2H into ordinary (pageable) memory. The driver stages it through its own pinned buffer and
   * returns only when the copy is done, so this blocks the thread: for measuring what pinned
   * memory saves (`tandem info`), not for pipelines.
   */
  copyToPageable(
    stream: Stream,
    dst: ArrayBufferView,
    src: DeviceBuffer,
    bytes = Math.min(dst.byteLength, src.byteLength),
  ): void {
    const s = this.#streamHandle(stream, 'copyToPageable');
    if (!Number.isInteger(bytes) || bytes < 0 || bytes > dst.byteLength || bytes > src.byteLength) {
      throw new UsageError(
        `copyToPageable of ${bytes} B does not fit: destination ${formatBytes(dst.byteLength)}, source ${formatBytes(src.byteLength)}`,
      );
    }
    check(
      this.#driver.cuMemcpyDtoHAsync_v2(dst, devicePtr(src), bytes, s),
      'cuMemcpyDtoHAsync_v2',
      `${formatBytes(bytes)} '${src.label}' → pageable`,
    );
  }

  memset(stream: Stream, dst: DeviceBuffer, value: number, options: { bytes?: number; offset?: number } = {}): void {
    const s = this.#streamHandle(stream, 'memset');
    if (!Number.isInteger(value) || value < 0 || value > 255)
      throw new UsageError(`memset value must be a byte (0..255); got ${value}`);
    const offset = options.offset ?? 0;
    const bytes = options.bytes ?? dst.byteLength - offset;
    checkRange('memset', dst, offset, bytes);
    check(
      this.#driver.cuMemsetD8Async(devicePtr(dst) + BigInt(offset), value, bytes, s),
      'cuMemsetD8Async',
      `'${dst.label}' on '${stream.label}'`,
    );
  }

  compile(source: string, options?: CompileOptions): CudaProgram {
    this.#use();
    return new CudaProgram(this.#context, source, options);
  }

  synchronize(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError('Device', `${this.ordinal}`));
    const waits: Promise<void>[] = [];
    for (const ref of this.#children) {
      const c = ref.deref();
      if (c instanceof CudaStream && !c.closed) waits.push(c.synchronize());
    }
    return Promise.all(waits).then(() => undefined);
  }

  hostAccess(_buffer: PinnedBuffer, _access: 'read' | 'write', _label?: string): void {
    // A plain device orders nothing here; the checked device (hazard checker) does.
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const reason = closedError('Device', `${this.ordinal}`);
    this.#waiter.close(reason);
    try {
      setCurrentContext(this.#driver, this.#ctx);
      // Buffers may still be read by queued copies; a faulted context reports its sticky error
      // here, and closing must still release everything.
      this.#driver.cuCtxSynchronize();
    } catch {
      // see above
    }
    this.pool.close();
    for (const ref of [...this.#children]) {
      try {
        ref.deref()?.close();
      } catch {
        // a lost context fails every release; the context release below frees them all
      }
    }
    this.#children.clear();
    this.#driver.cuDevicePrimaryCtxRelease_v2(this.#dev);
    forgetContext(this.#ctx);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      if (!this.#closed) await this.synchronize();
    } finally {
      this.close();
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError('Device', `${this.ordinal}`);
  }

  #use(): void {
    this.#assertOpen();
    setCurrentContext(this.#driver, this.#ctx);
  }

  #streamHandle(stream: Stream, what: string): bigint {
    this.#assertOpen();
    const h = cudaHandle(stream, 'stream', this, what);
    setCurrentContext(this.#driver, this.#ctx);
    return h;
  }
}

function checkSize(bytes: number, what: string): void {
  if (!Number.isSafeInteger(bytes) || bytes <= 0)
    throw new UsageError(`${what}: size must be a positive integer number of bytes; got ${bytes}`);
}

/** ptr + offset, without a BigInt for the usual offset 0. */
function at(ptr: bigint, offset: number): bigint {
  return offset === 0 ? ptr : ptr + BigInt(offset);
}

/** A tandem device or pinned buffer (not pageable memory such as a Uint8Array). */
function isBuffer(b: { kind: string } | null): boolean {
  return b !== null && typeof b === 'object' && (b.kind === 'device' || b.kind === 'pinned');
}

/** Bytes and offsets of a copy, checked against both buffers. */
export function copyExtent(
  dst: { byteLength: number; label: string; closed: boolean; kind: string },
  src: { byteLength: number; label: string; closed: boolean; kind: string },
  options: CopyOptions,
): { bytes: number; srcOffset: number; dstOffset: number } {
  // A plain Uint8Array/Buffer is pageable memory: the driver would stage it through a bounce
  // buffer and block the host, defeating the copy stream. Say so instead of failing obscurely.
  for (const [role, b] of [
    ['destination', dst],
    ['source', src],
  ] as const) {
    if (!isBuffer(b)) {
      throw new UsageError(
        `copy: the ${role} is not a tandem buffer (pageable host memory such as a Uint8Array or Buffer is not allowed: ` +
          `async copies need pinned memory). Copy into device.allocPinned(bytes).bytes first, or pin it in place with device.registerHost(buffer)`,
      );
    }
  }
  for (const b of [dst, src])
    if (b.closed) throw closedError(b.kind === 'device' ? 'DeviceBuffer' : 'PinnedBuffer', b.label);
  const srcOffset = options.srcOffset ?? 0;
  const dstOffset = options.dstOffset ?? 0;
  for (const [k, v] of [
    ['srcOffset', srcOffset],
    ['dstOffset', dstOffset],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new UsageError(`copy: ${k} must be a non-negative integer; got ${v}`);
  }
  const bytes = options.bytes ?? src.byteLength - srcOffset;
  if (!Number.isSafeInteger(bytes) || bytes < 0)
    throw new UsageError(`copy: bytes must be a non-negative integer; got ${bytes}`);
  if (srcOffset + bytes > src.byteLength) {
    throw new UsageError(
      `copy: ${formatBytes(bytes)} from offset ${srcOffset} runs past the end of source '${src.label}' ` +
        `(${formatBytes(src.byteLength)}); pass a smaller bytes or srcOffset`,
    );
  }
  if (dstOffset + bytes > dst.byteLength) {
    throw new UsageError(
      `copy: ${formatBytes(bytes)} at offset ${dstOffset} does not fit destination '${dst.label}' ` +
        `(${formatBytes(dst.byteLength)})` +
        `${options.bytes === undefined ? '; pass { bytes } to copy part of the source' : ''}`,
    );
  }
  return { bytes, srcOffset, dstOffset };
}

function checkRange(what: string, b: DeviceBuffer, offset: number, bytes: number): void {
  if (
    !Number.isSafeInteger(offset) ||
    offset < 0 ||
    !Number.isSafeInteger(bytes) ||
    bytes < 0 ||
    offset + bytes > b.byteLength
  ) {
    throw new UsageError(
      `${what}: ${bytes} B at offset ${offset} does not fit '${b.label}' (${formatBytes(b.byteLength)})`,
    );
  }
}

function devicePtr(b: HostOrDevice): bigint {
  if (!(b instanceof CudaDeviceBuffer))
    throw new UsageError(`'${b.label}' is not a CUDA device buffer (from another backend?)`);
  return b.ptr;
}

function hostPtr(b: HostOrDevice): bigint {
  if (!(b instanceof CudaPinnedBuffer || b instanceof RegisteredHostBuffer))
    throw new UsageError(`'${b.label}' is not CUDA pinned memory (from another backend?)`);
  if (b.closed) throw closedError('PinnedBuffer', b.label);
  return b.hostPtr;
}
