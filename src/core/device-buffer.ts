// Device memory (cuMemAlloc_v2 / cuMemFree_v2).
import { check, toPtr } from '../cuda/driver.js';
import { formatBytes } from '../util/format.js';
import type { DeviceContext } from './context.js';
import { CudaResource } from './resource.js';
import type { DeviceBuffer } from './types.js';

export class CudaDeviceBuffer extends CudaResource implements DeviceBuffer {
  readonly kind = 'device' as const;
  readonly #ptr: bigint;

  constructor(
    owner: DeviceContext,
    readonly byteLength: number,
    label: string,
  ) {
    super(owner, 'DeviceBuffer', label);
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
    this.own(this.#ptr, owner.driver.cuMemFree_v2);
  }

  get ptr(): bigint {
    this.assertOpen();
    return this.#ptr;
  }

  protected destroy(): void {
    this.owner.makeCurrent();
    check(this.owner.driver.cuMemFree_v2(this.#ptr), 'cuMemFree_v2', this.label);
  }
}

function safeFree(owner: DeviceContext): number | null {
  const free = [0];
  const total = [0];
  return owner.driver.cuMemGetInfo_v2(free, total) === 0 ? Number(free[0]) : null;
}
