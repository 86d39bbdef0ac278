// Kernel arguments packed the way cuLaunchKernel wants them (an array of pointers, one per
// parameter, each to the parameter's value), into memory allocated ONCE per kernel and updated
// in place on every launch: marshalling a fresh array per call through koffi is what makes a
// launch's cost grow with its arguments. Each value gets an 8-byte slot,
// which satisfies the alignment of every scalar type the signature allows.
import koffi from 'koffi';
import type { ArgType, KernelArg } from './types.js';
import { UsageError } from '../util/errors.js';

const SLOT = 8;
const U32_MAX = 2 ** 32 - 1;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U64_MAX = 2n ** 64n - 1n;

export const ARG_TYPES: readonly ArgType[] = ['pointer', 'u32', 'i32', 'u64', 'i64', 'f32', 'f64'];

/** What a pointer argument may be: a device buffer (checked open) or a raw address. */
export interface PointerLike {
  readonly kind: 'device';
  readonly ptr: bigint;
  readonly closed: boolean;
  readonly label: string;
  readonly byteLength: number;
}

type Setter = (view: DataView, offset: number, value: KernelArg) => void;

export class KernelArgs {
  /** The `void **kernelParams` to hand to cuLaunchKernel; null for a kernel without parameters. */
  readonly params: bigint | null;
  /** The value slots, for tests and for the hazard checker's view of what was passed. */
  readonly view: DataView;
  readonly #setters: Setter[];
  readonly #block: bigint | null;
  #freed = false;

  constructor(
    readonly kernelName: string,
    readonly signature: readonly ArgType[],
  ) {
    signature.forEach((t, i) => {
      if (!ARG_TYPES.includes(t)) {
        throw new UsageError(
          `kernel '${kernelName}': argument ${i} has type '${String(t)}'; use one of ${ARG_TYPES.join(', ')}`,
        );
      }
    });
    const n = signature.length;
    this.#setters = signature.map((t, i) => setterFor(t, this.#describe(i)));
    if (n === 0) {
      this.#block = null;
      this.params = null;
      this.view = new DataView(new ArrayBuffer(0));
      return;
    }
    // [values: n × 8 bytes][pointers: n × 8 bytes], one allocation that never moves.
    const block = koffi.alloc('uint8_t', 2 * n * SLOT) as bigint;
    this.#block = block;
    this.view = new DataView(koffi.view(block, 2 * n * SLOT));
    for (let i = 0; i < n; i++) this.view.setBigUint64(n * SLOT + i * SLOT, block + BigInt(i * SLOT), true);
    this.params = block + BigInt(n * SLOT);
  }

  /** Checks `args` against the signature and writes them into the slots. */
  pack(args: readonly KernelArg[]): void {
    if (this.#freed) throw new UsageError(`kernel '${this.kernelName}' belongs to a closed program; compile it again`);
    const setters = this.#setters;
    if (args.length !== setters.length) {
      throw new UsageError(
        `kernel '${this.kernelName}' takes ${setters.length} argument${setters.length === 1 ? '' : 's'} ` +
          `(${this.signature.join(', ') || 'none'}); got ${args.length}`,
      );
    }
    for (let i = 0; i < setters.length; i++) setters[i]!(this.view, i * SLOT, args[i]!);
  }

  /** Frees the slots (the program's close() calls it). Idempotent. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    if (this.#block !== null) koffi.free(this.#block);
  }

  #describe(i: number): string {
    return `argument ${i} (${this.signature[i]}) of kernel '${this.kernelName}'`;
  }
}

function setterFor(type: ArgType, what: string): Setter {
  switch (type) {
    case 'pointer':
      return (v, o, x) => v.setBigUint64(o, pointerValue(x, what), true);
    case 'u32':
      return (v, o, x) => {
        if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > U32_MAX)
          fail(what, 'an integer in 0..4294967295', x);
        v.setUint32(o, x, true);
      };
    case 'i32':
      return (v, o, x) => {
        if (typeof x !== 'number' || !Number.isInteger(x) || x < -(2 ** 31) || x > 2 ** 31 - 1)
          fail(what, 'an integer in -2147483648..2147483647', x);
        v.setInt32(o, x, true);
      };
    case 'u64':
      return (v, o, x) => v.setBigUint64(o, bigIntValue(x, 0n, U64_MAX, what), true);
    case 'i64':
      return (v, o, x) => v.setBigInt64(o, bigIntValue(x, I64_MIN, I64_MAX, what), true);
    case 'f32':
      return (v, o, x) => {
        if (typeof x !== 'number') fail(what, 'a number', x);
        v.setFloat32(o, x, true);
      };
    case 'f64':
      return (v, o, x) => {
        if (typeof x !== 'number') fail(what, 'a number', x);
        v.setFloat64(o, x, true);
      };
  }
}

function pointerValue(x: KernelArg, what: string): bigint {
  if (typeof x === 'bigint') {
    if (x < 0n || x > U64_MAX) fail(what, 'a device address in 0..2^64-1', x);
    return x;
  }
  if (typeof x === 'object' && x !== null && (x as PointerLike).kind === 'device') {
    const b = x as PointerLike;
    if (b.closed)
      throw new UsageError(
        `${what}: DeviceBuffer '${b.label}' was closed; allocate a new one with device.allocDevice()`,
      );
    return b.ptr;
  }
  if (typeof x === 'object' && x !== null && (x as { kind?: string }).kind === 'pinned') {
    throw new UsageError(`${what}: got a PinnedBuffer; kernels take device memory: copy it to a DeviceBuffer first`);
  }
  return fail(what, 'a DeviceBuffer or a bigint device address', x);
}

function bigIntValue(x: KernelArg, min: bigint, max: bigint, what: string): bigint {
  let b: bigint;
  if (typeof x === 'bigint') b = x;
  else if (typeof x === 'number' && Number.isSafeInteger(x)) b = BigInt(x);
  else return fail(what, 'a bigint or a safe integer', x);
  if (b < min || b > max) fail(what, `a value in ${min}..${max}`, x);
  return b;
}

function fail(what: string, expected: string, got: unknown): never {
  const shown =
    typeof got === 'bigint'
      ? `${got}n`
      : typeof got === 'object' && got !== null
        ? (got.constructor?.name ?? 'object')
        : typeof got === 'string'
          ? JSON.stringify(got)
          : String(got);
  throw new UsageError(`${what}: expected ${expected}; got ${typeof got === 'object' ? '' : `${typeof got} `}${shown}`);
}
