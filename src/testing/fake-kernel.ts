// Kernels of the fake device: JS functions over device memory, checked like real launches.
import type { ArgType, Dim, Kernel, KernelArg, LaunchOptions, Program, Stream } from '../core/types.js';
import { UsageError } from '../util/errors.js';
import { FakeDeviceBuffer, FakeStream } from './fake-resources.js';

export type Dim3 = [number, number, number];
export type FakeKernelArg = Uint8Array | number | bigint;
export interface FakeKernelContext {
  grid: Dim3;
  block: Dim3;
}
/**
 * Runs the whole launch; what it returns is ignored, unless it is an iterator: a long kernel
 * written as a generator that yields every row or so runs in short slices between event-loop
 * turns, and its launch ends (in virtual time) only after the last slice.
 */
export type FakeKernelFn = (ctx: FakeKernelContext, ...args: FakeKernelArg[]) => unknown;
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

export function toDim3(d: Dim, what: string): Dim3 {
  const a: number[] = typeof d === 'number' ? [d] : [...d];
  while (a.length < 3) a.push(1);
  if (a.length > 3 || a.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new UsageError(`${what} must be 1 to 3 positive integers, got ${JSON.stringify(d)}`);
  }
  return a as Dim3;
}

export function checkLaunchShape(kernel: string, options: LaunchOptions): { grid: Dim3; block: Dim3 } {
  const grid = toDim3(options.grid, `kernel ${kernel}: grid`);
  const block = toDim3(options.block, `kernel ${kernel}: block`);
  if (block[0] * block[1] * block[2] > 1024)
    throw new UsageError(`kernel ${kernel}: block ${block.join('×')} has more than 1024 threads; use a smaller block`);
  if (block[2] > 64) throw new UsageError(`kernel ${kernel}: block z is at most 64`);
  if (grid[0] > 2 ** 31 - 1 || grid[1] > 65535 || grid[2] > 65535)
    throw new UsageError(`kernel ${kernel}: grid ${grid.join('×')} is too large (x < 2^31, y and z ≤ 65535)`);
  return { grid, block };
}

export function checkArgs(kernel: string, signature: readonly ArgType[], args: readonly KernelArg[]): void {
  if (args.length !== signature.length) {
    throw new UsageError(
      `kernel ${kernel} takes ${signature.length} arguments (${signature.join(', ')}), got ${args.length}`,
    );
  }
  signature.forEach((t, i) => {
    const a = args[i];
    const bad = (want: string) =>
      new UsageError(
        `kernel ${kernel}: argument ${i} is ${t} and needs ${want}, got ${typeof a === 'object' ? 'a buffer' : String(a)}`,
      );
    switch (t) {
      case 'pointer':
        if (!(a instanceof FakeDeviceBuffer) && typeof a !== 'bigint') throw bad('a DeviceBuffer or a bigint address');
        break;
      case 'u32':
        if (typeof a !== 'number' || !Number.isInteger(a) || a < 0 || a > 0xffffffff)
          throw bad('an integer in 0..2^32-1');
        break;
      case 'i32':
        if (typeof a !== 'number' || !Number.isInteger(a) || a < -(2 ** 31) || a >= 2 ** 31)
          throw bad('an integer in -2^31..2^31-1');
        break;
      case 'u64':
      case 'i64':
        if (typeof a !== 'bigint' && !(typeof a === 'number' && Number.isSafeInteger(a)))
          throw bad('a bigint or a safe integer');
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
    if (!(stream instanceof FakeStream))
      throw new UsageError(`kernel ${this.name}: the stream belongs to another device`);
    const { grid, block } = checkLaunchShape(this.name, options);
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
        `fake device: no kernel '${name}' is defined; ${known.length ? `defined: ${known.join(', ')}` : 'none are defined'}. ` +
          `Define it with fake.defineKernel('${name}', signature, fn)`,
      );
    }
    if (signature && (signature.length !== def.signature.length || signature.some((t, i) => t !== def.signature[i]))) {
      throw new UsageError(
        `kernel ${name} was defined as (${def.signature.join(', ')}) but asked for as (${signature.join(', ')})`,
      );
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
