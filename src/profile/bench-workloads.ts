// The workloads `tandem bench` can sweep, adapted to one shape: made for a chunk size, a compute
// function over chunk indices, and (when the cost can be tuned) a knob the ratio calibration
// turns. The synthetic kernel's knob is its `iters`; the frame workloads have fixed chunk sizes
// (their frames) and no ratio axis.
import type { Device } from '../pipeline/device.js';
import { UsageError } from '../util/errors.js';
import type { ComputeChunk } from '../pipeline/types.js';
import { decoder } from '../workloads/decoder.js';
import { fractal } from '../workloads/fractal.js';
import {
  chunkBytes as frameChunkBytes,
  frameRange,
  type FrameFormat,
  type FrameRange,
} from '../formats/frame-format.js';
import { syntheticKernel, syntheticLauncher } from '../workloads/synthetic.js';
import type { FrameWorkloadFactory } from '../workloads/types.js';
import type { BenchInstance, BenchWorkload } from './sweep.js';

export const BENCH_WORKLOADS: readonly string[] = ['synthetic', 'fractal', 'decoder'];

/**
 * The fake device `tandem bench --fake` opens copies at 0.25 GB/s (a 256 KiB chunk: 1 ms), so
 * its virtual GPU times dominate the host's per-chunk overhead and overlap shows as it would on
 * a GPU. Its synthetic kernel really hashes every word `iters` times in JS, so the virtual cost
 * of an iteration is set to half the chunk's D2H time: the ratios land on a few iterations.
 */
export const FAKE_COPY_BYTES_PER_MS = 0.25e6;
const FAKE_SYNTHETIC_COST = { baseMs: 0.002, msPerWordIter: 2 / FAKE_COPY_BYTES_PER_MS };

function syntheticWorkload(backend: 'cuda' | 'fake'): BenchWorkload {
  return {
    name: 'synthetic',
    tunable: true,
    initialCost: backend === 'fake' ? 1 : 16,
    maxCost: backend === 'fake' ? 64 : 0xffffffff,
    async create(device: Device, chunkBytes: number): Promise<BenchInstance> {
      const { program, kernel } = syntheticKernel(device, backend === 'fake' ? FAKE_SYNTHETIC_COST : undefined);
      const launch = syntheticLauncher(device, kernel, chunkBytes);
      let iters = 0;
      return {
        compute: (chunk: ComputeChunk<number>) => launch(chunk.stream, chunk.output, null, chunk.index, iters, 0),
        setCost(cost: number) {
          iters = cost;
        },
        params: () => ({ iters }),
        close: () => program.close(),
      };
    },
  };
}

function frameWorkload(factory: FrameWorkloadFactory, backend: 'cuda' | 'fake'): BenchWorkload {
  // Full HD on a GPU; a thumbnail on the fake device, whose JS kernels would take minutes at 1080p.
  const format: FrameFormat =
    backend === 'fake'
      ? { width: 64, height: 40, pixelFormat: 'yuv420p', framesPerChunk: 4 }
      : { width: 1920, height: 1080, pixelFormat: 'yuv420p', framesPerChunk: 4 };
  return {
    name: factory.name,
    tunable: false,
    fixedChunkBytes: frameChunkBytes(format),
    async create(device: Device): Promise<BenchInstance> {
      const w = factory.create({
        width: format.width,
        height: format.height,
        pixelFormat: format.pixelFormat,
        framesPerChunk: format.framesPerChunk,
      });
      const instance = w.setup(device);
      return {
        compute: (chunk: ComputeChunk<number>) => {
          const item: FrameRange = frameRange(chunk.index, format.framesPerChunk, Number.MAX_SAFE_INTEGER);
          instance.compute({ ...chunk, item });
        },
        params: () => ({
          width: format.width,
          height: format.height,
          pixelFormat: format.pixelFormat,
          framesPerChunk: format.framesPerChunk,
          describe: w.describe,
        }),
        close: () => w.close(),
      };
    },
  };
}

export async function benchWorkload(name: string, backend: 'cuda' | 'fake'): Promise<BenchWorkload> {
  switch (name) {
    case 'synthetic':
      return syntheticWorkload(backend);
    case 'fractal':
      return frameWorkload(fractal, backend);
    case 'decoder':
      return frameWorkload(decoder, backend);
    default:
      throw new UsageError(`unknown workload '${name}'; built in: ${BENCH_WORKLOADS.join(', ')}`);
  }
}
