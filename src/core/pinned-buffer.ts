// Page-locked host memory: allocated by the driver (cuMemHostAlloc) or existing memory
// registered with it (cuMemHostRegister_v2). Both give zero-copy views over the same bytes;
// the copy engines DMA straight into them, which is what makes D2H async and fast.
import koffi from 'koffi';
import { check } from '../cuda/driver.js';
import { CU_MEMHOSTALLOC_PORTABLE, CU_MEMHOSTREGISTER_PORTABLE } from '../cuda/constants.js';
import { formatBytes } from '../util/format.js';
import type { DeviceContext } from './context.js';
import { CudaResource } from './resource.js';
import type { PinnedBuffer, TypedArrayConstructor } from './types.js';

abstract class HostMemory extends CudaResource implements PinnedBuffer {
  readonly kind = 'pinned' as const;
  #bytes: Uint8Array | null;

  protected constructor(
    owner: DeviceContext,
    kindName: 'PinnedBuffer' | 'RegisteredHostBuffer',
    readonly byteLength: number,
    label: string,
    /** The host address, for the copy calls. */
    readonly hostPtr: bigint,
    /** The view, or null to make it on first use (see CudaPinnedBuffer). */
    bytes: Uint8Array | null,
  ) {
    super(owner, kindName, label);
    this.#bytes = bytes;
  }

  /** Views taken before close() must not be used after it: the memory goes back to the OS. */
  get bytes(): Uint8Array {
    this.assertOpen();
    return (this.#bytes ??= new Uint8Array(koffi.view(this.hostPtr, this.byteLength)));
  }

  asBuffer(): Buffer {
    const b = this.bytes;
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  }

  view<T extends ArrayBufferView>(ctor: TypedArrayConstructor<T>, byteOffset = 0, length?: number): T {
    const b = this.bytes;
    const size = ctor.BYTES_PER_ELEMENT;
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % size !== 0) {
      throw new RangeError(
        `byteOffset ${byteOffset} must be a non-negative multiple of ${size} for a ${ctor.name ?? 'typed'} view`,
      );
    }
    const n = length ?? Math.floor((this.byteLength - byteOffset) / size);
    if (byteOffset + n * size > this.byteLength) {
      throw new RangeError(
        `a view of ${n} × ${size} B at offset ${byteOffset} does not fit '${this.label}' (${formatBytes(this.byteLength)})`,
      );
    }
    return new ctor(b.buffer, b.byteOffset + byteOffset, n);
  }
}

/** cuMemHostAlloc, portable to every context. */
export class CudaPinnedBuffer extends HostMemory {
  static allocate(owner: DeviceContext, byteLength: number, label: string): CudaPinnedBuffer {
    owner.makeCurrent();
    const out: (bigint | null)[] = [null];
    check(
      owner.driver.cuMemHostAlloc(out, byteLength, CU_MEMHOSTALLOC_PORTABLE),
      'cuMemHostAlloc',
      `${formatBytes(byteLength)} pinned${label ? ` for '${label}'` : ''}; page-locked memory is limited by RAM and ulimit -l`,
    );
    // No view yet: V8 counts an external ArrayBuffer's bytes toward its GC heuristics, and making
    // a few large views starts a full mark-compact within milliseconds, in the middle of a run.
    // Memory that is only a copy target, never read from JS (a ring
    // whose host stage just releases, as in tandem bench), never pays it: the first `.bytes`,
    // `view()` or `asBuffer()` makes the view.
    return new CudaPinnedBuffer(owner, byteLength, label, out[0]!);
  }

  private constructor(owner: DeviceContext, byteLength: number, label: string, ptr: bigint) {
    super(owner, 'PinnedBuffer', byteLength, label, ptr, null);
    this.own(ptr, owner.driver.cuMemFreeHost);
  }

  protected destroy(): void {
    this.owner.makeCurrent();
    check(this.owner.driver.cuMemFreeHost(this.hostPtr), 'cuMemFreeHost', this.label);
  }
}

/**
 * Existing host memory (a Buffer, typed array) page-locked in place. Keeps `source` alive
 * until close(), which unregisters it; the memory itself stays the caller's.
 */
export class RegisteredHostBuffer extends HostMemory {
  // eslint-disable-next-line no-unused-private-class-members -- held, not read: the registered memory stays alive
  #source: ArrayBufferView | null;

  static register(owner: DeviceContext, source: ArrayBufferView, label: string): RegisteredHostBuffer {
    if (source.byteLength === 0) throw new RangeError('cannot register an empty buffer');
    owner.makeCurrent();
    const ptr = koffi.address(source);
    check(
      owner.driver.cuMemHostRegister_v2(ptr, source.byteLength, CU_MEMHOSTREGISTER_PORTABLE),
      'cuMemHostRegister_v2',
      `${formatBytes(source.byteLength)}${label ? ` for '${label}'` : ''}`,
    );
    const bytes = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    return new RegisteredHostBuffer(owner, source, label, ptr, bytes);
  }

  private constructor(owner: DeviceContext, source: ArrayBufferView, label: string, ptr: bigint, bytes: Uint8Array) {
    super(owner, 'RegisteredHostBuffer', source.byteLength, label, ptr, bytes);
    this.#source = source;
    // The registration must end before the memory is freed; GC frees `source` only after this
    // object is unreachable, and the finalizer unregisters then.
    this.own(ptr, owner.driver.cuMemHostUnregister);
  }

  protected destroy(): void {
    this.#source = null;
    this.owner.makeCurrent();
    check(this.owner.driver.cuMemHostUnregister(this.hostPtr), 'cuMemHostUnregister', this.label);
  }
}
