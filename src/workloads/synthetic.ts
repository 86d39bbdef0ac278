// The synthetic workload: a kernel that writes a deterministic pattern (a hash of the word
// index, the chunk index and the uploaded input) and spins `iters` rounds per word, so its time
// can be set against the D2H time of its output. Used by the overlap benchmark and the tests.
// Also: the same bytes computed on the CPU (reference), a fake-device kernel producing them, and
// a calibration that finds the iters giving a chosen compute/copy ratio on a real device.
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

export interface Calibration {
  outputBytes: number;
  /** Median D2H time of one chunk's output into pinned memory (ms). */
  copyMs: number;
  /** Kernel time ≈ baseMs + perIterMs × iters, fitted from measurements. */
  baseMs: number;
  perIterMs: number;
  /** For each asked ratio: the iters and the measured kernel time and ratio. */
  points: Array<{ ratio: number; iters: number; kernelMs: number; measuredRatio: number }>;
}

/**
 * Measures on `device` the D2H time of `outputBytes` and the kernel time against iters, and
 * returns the iters giving each compute/copy ratio (e.g. 0.5, 1, 2). Progress on stderr.
 */
export async function calibrateSynthetic(
  device: Device,
  outputBytes: number,
  ratios: readonly number[] = [0.5, 1, 2],
  options: { repeats?: number; log?: (line: string) => void } = {},
): Promise<Calibration> {
  const repeats = options.repeats ?? 7;
  const log = options.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const { program, kernel } = syntheticKernel(device);
  const launch = syntheticLauncher(device, kernel, outputBytes);
  const stream = device.createStream({ label: 'calibrate' });
  const a = device.createEvent({ timing: true, label: 'calibrate start' });
  const b = device.createEvent({ timing: true, label: 'calibrate end' });
  const out = device.allocDevice(outputBytes, 'calibrate out');
  const pinned = device.allocPinned(outputBytes, 'calibrate pinned');
  const timeIt = async (enqueue: () => void): Promise<number> => {
    const xs: number[] = [];
    for (let r = 0; r < repeats + 1; r++) {
      a.record(stream);
      enqueue();
      b.record(stream);
      await b.completion();
      if (r > 0) xs.push(b.elapsedMs(a)); // the first one pays for loading and clocks ramping up
    }
    xs.sort((x, y) => x - y);
    return xs[xs.length >> 1]!;
  };
  try {
    const copyMs = await timeIt(() => device.copy(stream, pinned, out));
    const kernelMs = (iters: number) => timeIt(() => launch(stream, out, null, 0, iters, 0));
    const t0 = await kernelMs(0);
    // Find an iters whose time is well above the fixed part, then fit a line through both.
    let probe = 16;
    let tp = await kernelMs(probe);
    while (tp < Math.max(4 * t0, 2 * copyMs) && probe < 1 << 24) {
      probe *= 4;
      tp = await kernelMs(probe);
    }
    const perIterMs = Math.max((tp - t0) / probe, 1e-9);
    const baseMs = t0;
    log(
      `calibrate ${outputBytes} B: D2H ${copyMs.toFixed(4)} ms, kernel ${t0.toFixed(4)} ms + ${(perIterMs * 1000).toFixed(4)} µs × iters`,
    );
    const points: Calibration['points'] = [];
    for (const ratio of ratios) {
      let iters = Math.max(0, Math.round((ratio * copyMs - baseMs) / perIterMs));
      let k = await kernelMs(iters);
      // One correction step against the measured time (the fit is close, not exact).
      if (k > 0 && Math.abs(k / copyMs - ratio) > 0.02 * ratio) {
        iters = Math.max(0, Math.round(iters * ((ratio * copyMs - baseMs) / Math.max(k - baseMs, 1e-9))));
        k = await kernelMs(iters);
      }
      points.push({ ratio, iters, kernelMs: k, measuredRatio: k / copyMs });
      log(
        `calibrate ${outputBytes} B: ratio ${ratio} → iters ${iters}, kernel ${k.toFixed(4)} ms (ratio ${(k / copyMs).toFixed(3)})`,
      );
    }
    return { outputBytes, copyMs, baseMs, perIterMs, points };
  } finally {
    await stream.synchronize().catch(() => {});
    for (const r of [pinned, out, b, a, stream, program]) {
      try {
        r.close();
      } catch {
        // best effort: the error that matters was already thrown
      }
    }
  }
}
