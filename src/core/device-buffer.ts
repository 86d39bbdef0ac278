// Device memory (cuMemAlloc_v2 / cuMemFree_v2).
import { check, toPtr } from '../cuda/driver.js';
import { formatBytes } from '../util/format.js';
import { closedError } from './closed.js';
import type { DeviceContext } from './context.js';
import { unwatch, watch } from './finalizer.js';
import type { DeviceCore, DeviceBuffer } from './types.js';

export class CudaDeviceBuffer implements DeviceBuffer {
  readonly kind = 'device' as const;
  readonly #ptr: bigint;
  #closed = false;

  constructor(
    private readonly owner: DeviceContext,
    readonly byteLength: number,
    readonly label: string,
  ) {
    owner.makeCurrent();
    const out: (number | bigint)[] = [0];
    const rc = owner.driver.cuMemAlloc_v2(out, byteLength) as number;
    if (rc !== 0) {
      const info = safeFree(owner);
      check(
        rc,
        'cuMemAlloc_v2',
        `${formatBytes(byteLength)} asked${info ? `, ${formatBytes(info)} free` : ''}${label ? ` for '${label}'` : ''}`,
      );
    }
    this.#ptr = toPtr(out[0]!);
    watch(this, { ctx: owner.ctx, handle: this.#ptr, release: owner.driver.cuMemFree_v2 }, this);
    owner.adopt(this);
  }

  get device(): DeviceCore {
    return this.owner.device;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get ptr(): bigint {
    if (this.#closed) throw closedError('DeviceBuffer', this.label);
    return this.#ptr;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    unwatch(this);
    this.owner.release(this);
    this.owner.makeCurrent();
    check(this.owner.driver.cuMemFree_v2(this.#ptr), 'cuMemFree_v2', this.label);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function safeFree(owner: DeviceContext): number | null {
  const free = [0];
  const total = [0];
  return owner.driver.cuMemGetInfo_v2(free, total) === 0 ? Number(free[0]) : null;
}
