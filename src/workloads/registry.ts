// Workloads by name, for the CLI and users: 'fractal', 'decoder', and 'synthetic' (the hash
// kernel of synthetic.ts, its output shown as frames: noise, but a compute cost set exactly).
import { UsageError } from '../util/errors.js';
import { decoder } from './decoder.js';
import { fractal } from './fractal.js';
import { checkedFrameFormat, chunkBytes } from '../formats/frame-format.js';
import { synthetic } from './synthetic.js';
import type { FrameWorkload, FrameWorkloadFactory, FrameWorkloadOptions } from './types.js';

/** Hash rounds per 32-bit word of the synthetic workload at --cost 1. */
const SYNTHETIC_ITERS = 16;

const syntheticFrames: FrameWorkloadFactory = {
  name: 'synthetic',
  summary: 'hash kernel with an exact cost knob (output is noise); --cost scales the hash rounds',
  create(options: FrameWorkloadOptions): FrameWorkload {
    const format = checkedFrameFormat(options);
    const cost = options.cost ?? 1;
    if (!(cost >= 0) || !Number.isFinite(cost)) throw new UsageError(`--cost must be a number ≥ 0, got ${cost}`);
    const outputBytes = chunkBytes(format);
    if (outputBytes % 4 !== 0)
      throw new UsageError(
        `the synthetic workload writes 32-bit words: a chunk of ${outputBytes} bytes is not a multiple of 4; change --size or --frames-per-chunk`,
      );
    const iters = Math.round(SYNTHETIC_ITERS * cost);
    const inner = synthetic({ outputBytes, iters });
    return {
      name: 'synthetic',
      outputBytes,
      format,
      describe: `synthetic hash kernel, ${iters} rounds a word`,
      setup(device) {
        const inst = inner.setup(device);
        return {
          // The kernel seeds from chunk.index: the same chunking gives the same bytes.
          compute: (chunk) => inst.compute(chunk),
          referenceFrames: inst.reference
            ? (first: number, frames: number) => {
                // The kernel seeds from the chunk index: build whole chunks, then cut the frames out.
                const fb = outputBytes / format.framesPerChunk;
                const c0 = Math.floor(first / format.framesPerChunk);
                const c1 = Math.floor((first + frames - 1) / format.framesPerChunk);
                const all = new Uint8Array((c1 - c0 + 1) * outputBytes);
                for (let c = c0; c <= c1; c++) all.set(inst.reference!(c), (c - c0) * outputBytes);
                const at = (first - c0 * format.framesPerChunk) * fb;
                return all.subarray(at, at + frames * fb);
              }
            : undefined,
        };
      },
      close: () => inner.close(),
    };
  },
};

export const FRAME_WORKLOADS: Readonly<Record<string, FrameWorkloadFactory>> = {
  fractal,
  decoder,
  synthetic: syntheticFrames,
};

/** Names createFrameWorkload() accepts. */
export function workloadNames(): string[] {
  return Object.keys(FRAME_WORKLOADS);
}

/** The named workload with its options checked; a UsageError lists the names otherwise. */
export function createFrameWorkload(name: string, options: FrameWorkloadOptions): FrameWorkload {
  const factory = FRAME_WORKLOADS[name];
  if (!factory) throw new UsageError(`unknown workload '${name}': choose one of ${workloadNames().join(', ')}`);
  return factory.create(options);
}
