// A kernel of a loaded module: launch(stream, { grid, block, sharedMemBytes }, ...args) checks
// the launch shape and the arguments, writes them into the kernel's reused argument block
// (kernel-args.ts) and enqueues cuLaunchKernel on the given stream.
import { check } from '../cuda/driver.js';
import { closedError } from './closed.js';
import { cudaHandle } from './handles.js';
import type { DeviceContext } from './context.js';
import { KernelArgs } from './kernel-args.js';
import { normalizeLaunch, type NormalizedLaunch } from './launch-config.js';
import type { ArgType, Kernel, KernelArg, LaunchOptions, Stream } from './types.js';

export class CudaKernel implements Kernel {
  readonly #args: KernelArgs;
  // The last launch shape given as plain numbers, so a hot loop with the same shape skips the
  // normalisation (arrays are not cached: they can change in place).
  #lastGrid: unknown = undefined;
  #lastBlock: unknown = undefined;
  #lastShared: unknown = undefined;
  #last: NormalizedLaunch | null = null;
  readonly #what: string;

  constructor(
    private readonly owner: DeviceContext,
    private readonly program: { readonly closed: boolean; readonly name: string },
    readonly name: string,
    readonly signature: readonly ArgType[],
    /** The CUfunction. */
    readonly handle: bigint,
  ) {
    this.#args = new KernelArgs(name, signature);
    this.#what = `kernel '${name}'`;
  }

  launch(stream: Stream, options: LaunchOptions, ...args: KernelArg[]): void {
    if (this.program.closed) throw closedError('Program', this.program.name);
    const s = cudaHandle(stream, 'stream', this.owner.device, this.#what);
    const { grid, block, sharedMemBytes } = this.#shape(options);
    this.#args.pack(args);
    this.owner.makeCurrent();
    const rc = this.owner.driver.cuLaunchKernel(
      this.handle,
      grid[0],
      grid[1],
      grid[2],
      block[0],
      block[1],
      block[2],
      sharedMemBytes,
      s,
      this.#args.params,
      null,
    ) as number;
    if (rc !== 0)
      check(
        rc,
        'cuLaunchKernel',
        `'${this.name}' grid [${grid.join(', ')}] block [${block.join(', ')}] on stream '${stream.label}'`,
      );
  }

  #shape(o: LaunchOptions): NormalizedLaunch {
    if (
      this.#last !== null &&
      o.grid === this.#lastGrid &&
      o.block === this.#lastBlock &&
      o.sharedMemBytes === this.#lastShared
    )
      return this.#last;
    const shape = normalizeLaunch(o.grid, o.block, o.sharedMemBytes, this.owner.limits);
    if (typeof o.grid === 'number' && typeof o.block === 'number') {
      this.#lastGrid = o.grid;
      this.#lastBlock = o.block;
      this.#lastShared = o.sharedMemBytes;
      this.#last = shape;
    }
    return shape;
  }

  /** The program's close() frees the argument block. */
  free(): void {
    this.#args.free();
  }
}
