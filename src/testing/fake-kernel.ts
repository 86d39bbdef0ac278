// Kernels of the fake device: JS functions over device memory, checked like real launches.
import { normalizeLaunch, type Dim3 } from '../core/launch-config.js';
import type { ArgType, Kernel, KernelArg, LaunchOptions, Program, Stream } from '../core/types.js';
import { UsageError } from '../cuda/errors.js';
import { FakeDeviceBuffer, FakeStream } from './fake-resources.js';

export type { Dim3 };
export type FakeKernelArg = Uint8Array | number | bigint;
export interface FakeKernelContext {
  grid: Dim3;
  block: Dim3;
}
export type FakeKernelFn = (ctx: FakeKernelContext, ...args: FakeKernelArg[]) => void;
/** Virtual ms per launch, or a function of the (converted) arguments. */
export type FakeKernelCost = number | ((...args: FakeKernelArg[]) => number);

export interface FakeKernelDef {
  name: string;
  signature: readonly ArgType[];
  fn: FakeKernelFn;
  cost?: FakeKernelCost;
}

/** What a kernel launch needs from the device. */
export interface FakeLaunchHost {
  launch(kernel: FakeKernel, stream: FakeStream, grid: Dim3, block: Dim3, args: KernelArg[]): void;
  checkUsable(what: string): void;
}

export function checkArgs(kernel: string, signature: readonly ArgType[], args: readonly KernelArg[]): void {
  if (args.length !== signature.length) {
    throw new UsageError(`kernel ${kernel} takes ${signature.length} arguments (${signature.join(', ')}), got ${args.length}`);
  }
  signature.forEach((t, i) => {
    const a = args[i];
    const bad = (want: string) => new UsageError(`kernel ${kernel}: argument ${i} is ${t} and needs ${want}, got ${typeof a === 'object' ? 'a buffer' : String(a)}`);
    switch (t) {
      case 'pointer':
        if (!(a instanceof FakeDeviceBuffer) && typeof a !== 'bigint') throw bad('a DeviceBuffer or a bigint address');
        break;
      case 'u32':
        if (typeof a !== 'number' || !Number.isInteger(a) || a < 0 || a > 0xffffffff) throw bad('an integer in 0..2^32-1');
        break;
      case 'i32':
        if (typeof a !== 'number' || !Number.isInteger(a) || a < -(2 ** 31) || a >= 2 ** 31) throw bad('an integer in -2^31..2^31-1');
        break;
      case 'u64':
      case 'i64':
        if (typeof a !== 'bigint' && !(typeof a === 'number' && Number.isSafeInteger(a))) throw bad('a bigint or a safe integer');
        break;
      case 'f32':
      case 'f64':
        if (typeof a !== 'number') throw bad('a number');
        break;
    }
  });
}

export class FakeKernel implements Kernel {
  constructor(
    readonly def: FakeKernelDef,
    private readonly host: FakeLaunchHost,
  ) {}
  get name(): string {
    return this.def.name;
  }
  get signature(): readonly ArgType[] {
    return this.def.signature;
  }
  launch(stream: Stream, options: LaunchOptions, ...args: KernelArg[]): void {
    this.host.checkUsable(`launch ${this.name}`);
    if (!(stream instanceof FakeStream)) throw new UsageError(`kernel ${this.name}: the stream belongs to another device`);
    // The real device's normaliser, so the fake rejects exactly what a GPU launch would.
    const { grid, block } = normalizeLaunch(options.grid, options.block, options.sharedMemBytes);
    checkArgs(this.name, this.signature, args);
    this.host.launch(this, stream, grid, block, args);
  }
}

export class FakeProgram implements Program {
  closed = false;
  constructor(
    private readonly kernels: ReadonlyMap<string, FakeKernelDef>,
    private readonly host: FakeLaunchHost,
    private readonly name: string,
  ) {}
  getKernel(name: string, signature?: readonly ArgType[]): Kernel {
    if (this.closed) throw new UsageError(`program '${this.name}' used after close()`);
    const def = this.kernels.get(name);
    if (!def) {
      const known = [...this.kernels.keys()];
      throw new UsageError(
        `fake device: no kernel '${name}' is defined; ${known.length ? `defined: ${known.join(', ')}` : 'none are defined'}. Define it with fake.defineKernel('${name}', signature, fn)`,
      );
    }
    if (signature && (signature.length !== def.signature.length || signature.some((t, i) => t !== def.signature[i]))) {
      throw new UsageError(`kernel ${name} was defined as (${def.signature.join(', ')}) but asked for as (${signature.join(', ')})`);
    }
    return new FakeKernel(def, this.host);
  }
  close(): void {
    this.closed = true;
  }
  [Symbol.dispose](): void {
    this.close();
  }
}
