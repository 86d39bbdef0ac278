// The synthetic workload: a kernel that writes a deterministic pattern (a hash of the word
// index, the chunk index and the uploaded input) and spins `iters` rounds per word, so its time
// can be set against the D2H time of its output. Used by the overlap benchmark and the tests.
// Also: the same bytes computed on the CPU (reference) and a fake-device kernel producing them.
// The iters giving a chosen compute/copy ratio are found by profile/calibrate.ts.
import type { ArgType, Kernel } from '../core/types.js';
import type { Device } from '../pipeline/device.js';
import { UsageError } from '../util/errors.js';
import type { ComputeChunk } from '../pipeline/types.js';

/**
 * The shape a workload follows (other workloads copy it): sizes, a setup that compiles for one
 * device and returns the per-chunk compute (and, when it has one, a CPU reference), and close().
 */
/** A workload for a pipeline: a kernel's source and how to set it up on a device. */
export interface Workload<I = unknown> {
  readonly name: string;
  /** Output bytes per chunk. */
  readonly outputBytes: number;
  /** Input bytes per chunk, when the workload uploads inputs. */
  readonly inputBytes?: number;
  setup(device: Device): WorkloadInstance<I>;
  /** Releases what setup() made (programs). Idempotent. */
  close(): void;
}

/** A workload set up on one device: the compute() callback and a CPU reference of each chunk. */
export interface WorkloadInstance<I = unknown> {
  /** Enqueues chunk.index's kernels on chunk.stream (a PipelineOptions.compute). */
  compute(chunk: ComputeChunk<I>): void;
  /** The expected output bytes of chunk `index` (given its input bytes when it has inputs). */
  reference?(index: number, input?: Uint8Array): Uint8Array;
}

export const SYNTHETIC_KERNEL = 'tandem_synthetic';
/** out, in, words, chunk, iters, inWords */
export const SYNTHETIC_SIGNATURE: readonly ArgType[] = ['pointer', 'pointer', 'u64', 'u32', 'u32', 'u64'];

export const SYNTHETIC_SOURCE = String.raw`
// lowbias32 (Chris Wellons): a cheap, well-mixed 32-bit hash. Each round depends on the last,
// so the compiler cannot fold the loop away and time grows linearly with iters.
__device__ __forceinline__ unsigned int tandem_mix(unsigned int x) {
  x ^= x >> 16; x *= 0x7feb352dU; x ^= x >> 15; x *= 0x846ca68bU; x ^= x >> 16;
  return x;
}
extern "C" __global__ void ${SYNTHETIC_KERNEL}(unsigned int* out, const unsigned int* in,
    unsigned long long words, unsigned int chunk, unsigned int iters, unsigned long long inWords) {
  unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
  for (unsigned long long w = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; w < words; w += stride) {
    unsigned int x = (unsigned int)w ^ (chunk * 0x9e3779b9U);
    if (inWords) x ^= in[w % inWords];
    for (unsigned int k = 0; k < iters; ++k) x = tandem_mix(x + k);
    out[w] = tandem_mix(x);
  }
}
`;

function mix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The kernel's output words, computed on the CPU (little-endian like the GPU). */
export function syntheticWords(out: Uint32Array, chunk: number, iters: number, input?: Uint32Array): void {
  const c = Math.imul(chunk >>> 0, 0x9e3779b9);
  const inWords = input ? input.length : 0;
  for (let w = 0; w < out.length; w++) {
    let x = (w ^ c) >>> 0;
    if (inWords) x = (x ^ input![w % inWords]!) >>> 0;
    for (let k = 0; k < iters; k++) x = mix((x + k) >>> 0);
    out[w] = mix(x);
  }
}

/** Reference bytes of chunk `index` (with the chunk's input bytes when the workload uploads). */
export function syntheticReference(outputBytes: number, index: number, iters: number, input?: Uint8Array): Uint8Array {
  const out = new Uint8Array(outputBytes);
  const words = new Uint32Array(out.buffer, 0, outputBytes >>> 2);
  const inWords = input
    ? new Uint32Array(input.buffer.slice(input.byteOffset, input.byteOffset + (input.byteLength & ~3)))
    : undefined;
  syntheticWords(words, index, iters, inWords && inWords.length ? inWords : undefined);
  return out;
}

/** What defineSyntheticFakeKernel needs: the fake device's defineKernel (structurally). */
export interface KernelDefiner {
  defineKernel(
    name: string,
    signature: readonly ArgType[],
    fn: (ctx: unknown, ...args: Array<Uint8Array | number | bigint>) => void,
    cost?: number | ((...args: Array<Uint8Array | number | bigint>) => number),
  ): void;
}

/**
 * Defines tandem_synthetic on a fake device: the same bytes as the CUDA kernel, costing
 * `baseMs + words × iters × msPerWordIter` virtual ms.
 */
export function defineSyntheticFakeKernel(
  fake: KernelDefiner,
  cost: { baseMs?: number; msPerWordIter?: number } = {},
): void {
  const base = cost.baseMs ?? 0.005;
  const per = cost.msPerWordIter ?? 1e-6;
  fake.defineKernel(
    SYNTHETIC_KERNEL,
    SYNTHETIC_SIGNATURE,
    (_ctx, out, input, words, chunk, iters, inWords) => {
      const o = out as Uint8Array;
      const n = Number(words);
      const target = new Uint32Array(o.buffer, o.byteOffset, n);
      const iw = Number(inWords);
      const src = iw > 0 ? copyWords(input as Uint8Array, iw) : undefined;
      syntheticWords(target, chunk as number, iters as number, src);
    },
    (_out, _in, words, _chunk, iters) => base + Number(words) * Math.max(1, iters as number) * per,
  );
}

function copyWords(bytes: Uint8Array, words: number): Uint32Array {
  // Device memory views may be unaligned for Uint32Array; copy the words out.
  return new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + words * 4));
}

/** synthetic() options: chunk size and the kernel's work per chunk. */
export interface SyntheticOptions {
  /** Output bytes per chunk (a multiple of 4). */
  outputBytes: number;
  /** Input bytes per chunk (a multiple of 4); enables uploads. */
  inputBytes?: number;
  /** Rounds of hashing per output word: the knob for compute time. Default 0. */
  iters?: number;
  /** Threads per block (default 256). */
  block?: number;
  /** Cost model on a fake device. */
  fakeCost?: { baseMs?: number; msPerWordIter?: number };
}

/** The synthetic workload as a Workload: setup(device) compiles (or defines) the kernel. */
export function synthetic(options: SyntheticOptions): Workload<unknown> {
  const { outputBytes, inputBytes } = options;
  const iters = options.iters ?? 0;
  if (!Number.isSafeInteger(outputBytes) || outputBytes <= 0 || outputBytes % 4)
    throw new UsageError(`synthetic: outputBytes must be a positive multiple of 4, got ${outputBytes}`);
  if (inputBytes !== undefined && (!Number.isSafeInteger(inputBytes) || inputBytes < 0 || inputBytes % 4))
    throw new UsageError(`synthetic: inputBytes must be a multiple of 4, got ${inputBytes}`);
  if (!Number.isInteger(iters) || iters < 0 || iters > 0xffffffff)
    throw new UsageError(`synthetic: iters must be an integer ≥ 0, got ${iters}`);
  const closers: Array<() => void> = [];
  return {
    name: `synthetic(iters=${iters})`,
    outputBytes,
    inputBytes,
    setup(device: Device): WorkloadInstance<unknown> {
      const kernel = syntheticKernel(device, options.fakeCost);
      closers.push(() => kernel.program.close());
      const launch = syntheticLauncher(device, kernel.kernel, outputBytes, options.block);
      return {
        compute(chunk: ComputeChunk<unknown>) {
          launch(chunk.stream, chunk.output, chunk.input, chunk.index, iters, chunk.input ? (inputBytes ?? 0) : 0);
        },
        reference: (index: number, input?: Uint8Array) => syntheticReference(outputBytes, index, iters, input),
      };
    },
    close() {
      for (const c of closers.splice(0)) c();
    },
  };
}

/** Compiles tandem_synthetic for `device` (defining the JS version first on a fake device). */
export function syntheticKernel(
  device: Device,
  fakeCost?: SyntheticOptions['fakeCost'],
): { program: import('../core/types.js').Program; kernel: Kernel } {
  if (device.backend === 'fake' && typeof (device as unknown as KernelDefiner).defineKernel === 'function') {
    defineSyntheticFakeKernel(device as unknown as KernelDefiner, fakeCost);
  }
  const program = device.compile(SYNTHETIC_SOURCE, {
    kernels: { [SYNTHETIC_KERNEL]: SYNTHETIC_SIGNATURE },
    name: 'synthetic.cu',
  });
  return { program, kernel: program.getKernel(SYNTHETIC_KERNEL, SYNTHETIC_SIGNATURE) };
}

/** A launch function with the grid worked out once: (stream, out, in, chunk, iters, inBytes). */
export function syntheticLauncher(device: Device, kernel: Kernel, outputBytes: number, block = 256) {
  const words = outputBytes >>> 2;
  // Enough blocks to fill every SM several times over; the grid-stride loop covers the rest.
  const grid = Math.max(1, Math.min(Math.ceil(words / block), device.properties.smCount * 32));
  const cfg = { grid, block };
  const wordsBig = BigInt(words);
  return (
    stream: import('../core/types.js').Stream,
    out: import('../core/types.js').DeviceBuffer,
    input: import('../core/types.js').DeviceBuffer | null,
    chunk: number,
    iters: number,
    inBytes: number,
  ) => {
    // Without an input the kernel never reads `in`; pass `out` so the pointer is valid anyway.
    kernel.launch(stream, cfg, out, input ?? out, wordsBig, chunk >>> 0, iters, BigInt(inBytes >>> 2));
  };
}
