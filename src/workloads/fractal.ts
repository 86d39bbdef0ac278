// A deep Mandelbrot zoom with smooth colouring, written straight into RGBA8 or I420 on the GPU.
// Every operation is an IEEE double add/mul/div or integer arithmetic (FMA contraction off, the
// logarithm a series of +,*,/), so the fake device's JS twin produces the same bytes as the GPU.
import type { Kernel, Program } from '../core/types.js';
import type { Device } from '../pipeline/device.js';
import { UsageError } from '../util/errors.js';
import type { ComputeChunk } from '../pipeline/types.js';
import { CUDA_COLOR_SOURCE, storeBlock } from '../formats/color.js';
import { defineFakeKernels, runToEnd } from './fake-kernels.js';
import {
  chunkBytes,
  frameBytes,
  frameRangeOf,
  checkedFrameFormat,
  type FrameFormat,
  type FrameRange,
} from '../formats/frame-format.js';
import type { FrameWorkload, FrameWorkloadFactory, FrameWorkloadInstance, FrameWorkloadOptions } from './types.js';

/** Seahorse valley: boundary all the way down, so every zoom level has structure. */
export const ZOOM_CENTER: readonly [number, number] = [-0.7436438870371587, 0.13182590420531198];
/** View width at frame 0, in the complex plane. */
const START_WIDTH = 3.2;
/** Zoom halves the view width every this many frames (one second at 30 fps). */
const FRAMES_PER_DOUBLING = 30;
/** Past 2^-40 of the start width, doubles run out of bits at 4K: zoom back out (a triangle wave). */
const MAX_DOUBLINGS = 40;
export const BASE_ITERATIONS = 256;

const PALETTE = [0, 7, 100, 32, 107, 203, 237, 255, 255, 255, 170, 0, 160, 30, 0, 90, 0, 60, 20, 40, 160, 0, 2, 30];
const PALETTE_STEPS = 64; // interpolation steps between two stops
const PALETTE_PERIOD = (PALETTE.length / 3) * PALETTE_STEPS;

export const FRACTAL_SOURCE = String.raw`
${CUDA_COLOR_SOURCE}
__constant__ unsigned char PALETTE[${PALETTE.length}] = { ${PALETTE.join(', ')} };

// log2 from +, *, / only (IEEE-exact, so JS reproduces it bit for bit).
__device__ double tlog2(double v) {
  int e = 0;
  while (v >= 2.0) { v *= 0.5; ++e; }
  while (v < 1.0) { v *= 2.0; --e; }
  double y = (v - 1.0) / (v + 1.0);
  double y2 = y * y;
  double s = 1.0 / 15.0;
  s = s * y2 + 1.0 / 13.0;
  s = s * y2 + 1.0 / 11.0;
  s = s * y2 + 1.0 / 9.0;
  s = s * y2 + 1.0 / 7.0;
  s = s * y2 + 1.0 / 5.0;
  s = s * y2 + 1.0 / 3.0;
  s = s * y2 + 1.0;
  return (double)e + 2.0 * y * s * 1.4426950408889634;
}

__device__ void shade(unsigned int x, unsigned int y, unsigned int width, unsigned int height,
                      double cx0, double cy0, double step, unsigned int max_iter, int* r, int* g, int* b) {
  double hx = (double)width * 0.5 - 0.5;
  double hy = (double)height * 0.5 - 0.5;
  double cx = cx0 + ((double)x - hx) * step;
  double cy = cy0 - ((double)y - hy) * step;
  double zx = 0.0, zy = 0.0, x2 = 0.0, y2 = 0.0;
  unsigned int i = 0;
  for (; i < max_iter; ++i) {
    x2 = zx * zx;
    y2 = zy * zy;
    if (x2 + y2 > 256.0) break;
    zy = 2.0 * zx * zy + cy;
    zx = x2 - y2 + cx;
  }
  if (i == max_iter) { *r = 0; *g = 0; *b = 0; return; }
  double nu = tlog2(tlog2(x2 + y2) * 0.5);
  double mu = (double)i + 1.0 - nu;
  int p = (int)((mu + 4.0) * 12.0) % ${PALETTE_PERIOD};
  int s = p / ${PALETTE_STEPS}, f = p % ${PALETTE_STEPS};
  int t = (s + 1) % ${PALETTE.length / 3};
  *r = (PALETTE[s * 3 + 0] * (${PALETTE_STEPS} - f) + PALETTE[t * 3 + 0] * f + ${PALETTE_STEPS / 2}) / ${PALETTE_STEPS};
  *g = (PALETTE[s * 3 + 1] * (${PALETTE_STEPS} - f) + PALETTE[t * 3 + 1] * f + ${PALETTE_STEPS / 2}) / ${PALETTE_STEPS};
  *b = (PALETTE[s * 3 + 2] * (${PALETTE_STEPS} - f) + PALETTE[t * 3 + 2] * f + ${PALETTE_STEPS / 2}) / ${PALETTE_STEPS};
}

// One thread per 2x2 pixel block (I420 shares one chroma sample between the four).
extern "C" __global__ void fractal_frame(unsigned char* out, unsigned int offset, unsigned int width,
                                         unsigned int height, unsigned int format, double cx0, double cy0,
                                         double step, unsigned int max_iter) {
  unsigned int x0 = (blockIdx.x * blockDim.x + threadIdx.x) * 2u;
  unsigned int y0 = (blockIdx.y * blockDim.y + threadIdx.y) * 2u;
  if (x0 >= width || y0 >= height) return;
  int r[4], g[4], b[4];
  for (int k = 0; k < 4; ++k) shade(x0 + (k & 1), y0 + (k >> 1), width, height, cx0, cy0, step, max_iter, &r[k], &g[k], &b[k]);
  store_block(out + offset, width, height, format, x0, y0, r, g, b);
}
`;

export const FRACTAL_SIGNATURE = ['pointer', 'u32', 'u32', 'u32', 'u32', 'f64', 'f64', 'f64', 'u32'] as const;
/** -fmad=false: a contracted a*b+c rounds once, JS rounds twice; forbid it so both agree. */
export const FRACTAL_COMPILE_OPTIONS = ['--fmad=false'] as const;

export interface FractalFrameParams {
  centerX: number;
  centerY: number;
  /** Complex-plane distance between two pixels. */
  step: number;
  maxIterations: number;
}

/** Where frame `frame` looks, computed on the host (Math.pow never runs on the GPU). */
export function fractalFrameParams(frame: number, width: number, cost = 1): FractalFrameParams {
  const cycle = frame / FRAMES_PER_DOUBLING;
  const phase = cycle % (2 * MAX_DOUBLINGS);
  const doublings = phase <= MAX_DOUBLINGS ? phase : 2 * MAX_DOUBLINGS - phase;
  const base = Math.max(16, Math.round(BASE_ITERATIONS * cost));
  // Deeper views need more iterations before the boundary resolves.
  return {
    centerX: ZOOM_CENTER[0],
    centerY: ZOOM_CENTER[1],
    step: (START_WIDTH * Math.pow(2, -doublings)) / width,
    maxIterations: Math.round(base * (1 + doublings / 4)),
  };
}

function tlog2(v: number): number {
  let e = 0;
  while (v >= 2) {
    v *= 0.5;
    ++e;
  }
  while (v < 1) {
    v *= 2;
    --e;
  }
  const y = (v - 1) / (v + 1);
  const y2 = y * y;
  let s = 1 / 15;
  s = s * y2 + 1 / 13;
  s = s * y2 + 1 / 11;
  s = s * y2 + 1 / 9;
  s = s * y2 + 1 / 7;
  s = s * y2 + 1 / 5;
  s = s * y2 + 1 / 3;
  s = s * y2 + 1;
  return e + 2 * y * s * 1.4426950408889634;
}

function shade(
  x: number,
  y: number,
  width: number,
  height: number,
  cx0: number,
  cy0: number,
  step: number,
  maxIter: number,
  k: number,
  r: Int32Array,
  g: Int32Array,
  b: Int32Array,
): void {
  const hx = width * 0.5 - 0.5;
  const hy = height * 0.5 - 0.5;
  const cx = cx0 + (x - hx) * step;
  const cy = cy0 - (y - hy) * step;
  let zx = 0,
    zy = 0,
    x2 = 0,
    y2 = 0;
  let i = 0;
  for (; i < maxIter; ++i) {
    x2 = zx * zx;
    y2 = zy * zy;
    if (x2 + y2 > 256) break;
    zy = 2 * zx * zy + cy;
    zx = x2 - y2 + cx;
  }
  if (i === maxIter) {
    r[k] = 0;
    g[k] = 0;
    b[k] = 0;
    return;
  }
  const nu = tlog2(tlog2(x2 + y2) * 0.5);
  const mu = i + 1 - nu;
  // (int) in C truncates toward zero, as Math.trunc; mu + 4 > 0 always.
  const p = Math.trunc((mu + 4) * 12) % PALETTE_PERIOD;
  const s = Math.trunc(p / PALETTE_STEPS),
    f = p % PALETTE_STEPS;
  const t = (s + 1) % (PALETTE.length / 3);
  r[k] = Math.trunc((PALETTE[s * 3]! * (PALETTE_STEPS - f) + PALETTE[t * 3]! * f + PALETTE_STEPS / 2) / PALETTE_STEPS);
  g[k] = Math.trunc(
    (PALETTE[s * 3 + 1]! * (PALETTE_STEPS - f) + PALETTE[t * 3 + 1]! * f + PALETTE_STEPS / 2) / PALETTE_STEPS,
  );
  b[k] = Math.trunc(
    (PALETTE[s * 3 + 2]! * (PALETTE_STEPS - f) + PALETTE[t * 3 + 2]! * f + PALETTE_STEPS / 2) / PALETTE_STEPS,
  );
}

/** The JS twin of fractal_frame: the whole launch at once. */
export function fractalFrameJs(...args: Parameters<typeof fractalFrameRows>): void {
  runToEnd(fractalFrameRows(...args));
}

/** fractalFrameJs in slices: yields after each pair of rows (the fake device runs it between turns). */
export function* fractalFrameRows(
  out: Uint8Array,
  offset: number,
  width: number,
  height: number,
  format: number,
  cx0: number,
  cy0: number,
  step: number,
  maxIter: number,
): Generator<void, void, undefined> {
  const frame = out.subarray(offset);
  const r = new Int32Array(4),
    g = new Int32Array(4),
    b = new Int32Array(4);
  for (let y0 = 0; y0 < height; y0 += 2) {
    for (let x0 = 0; x0 < width; x0 += 2) {
      for (let k = 0; k < 4; k++)
        shade(x0 + (k & 1), y0 + (k >> 1), width, height, cx0, cy0, step, maxIter, k, r, g, b);
      storeBlock(frame, width, height, format, x0, y0, r, g, b);
    }
    yield;
  }
}

/** Renders frame `frame` on the host: the reference the tests compare against. */
export function renderFractalFrame(format: Omit<FrameFormat, 'framesPerChunk'>, frame: number, cost = 1): Uint8Array {
  const out = new Uint8Array(frameBytes(format));
  const p = fractalFrameParams(frame, format.width, cost);
  fractalFrameJs(
    out,
    0,
    format.width,
    format.height,
    format.pixelFormat === 'rgba' ? 0 : 1,
    p.centerX,
    p.centerY,
    p.step,
    p.maxIterations,
  );
  return out;
}

const BLOCK = [16, 8] as const;

export const fractal: FrameWorkloadFactory = {
  name: 'fractal',
  summary: 'deep Mandelbrot zoom, smooth colouring, double precision; --cost scales the iterations',
  create(options: FrameWorkloadOptions): FrameWorkload {
    const format = checkedFrameFormat(options);
    const cost = options.cost ?? 1;
    if (!(cost > 0) || !Number.isFinite(cost)) throw new UsageError(`--cost must be a positive number, got ${cost}`);
    if (chunkBytes(format) > 0xffffffff)
      throw new UsageError('a fractal chunk must stay under 4 GiB: use fewer frames per chunk');
    const fb = frameBytes(format);
    const programs: Program[] = [];
    return {
      name: 'fractal',
      outputBytes: chunkBytes(format),
      format,
      describe: `Mandelbrot zoom, ${fractalFrameParams(0, format.width, cost).maxIterations}+ iterations a pixel (double precision)`,
      setup(device: Device): FrameWorkloadInstance {
        defineFakeKernels(device, [
          {
            name: 'fractal_frame',
            signature: FRACTAL_SIGNATURE,
            fn: (
              _ctx,
              out: Uint8Array,
              offset: number,
              w: number,
              h: number,
              f: number,
              cx: number,
              cy: number,
              step: number,
              it: number,
            ) => fractalFrameRows(out, offset, w, h, f, cx, cy, step, it),
          },
        ]);
        const program = device.compile(FRACTAL_SOURCE, {
          name: 'fractal.cu',
          options: FRACTAL_COMPILE_OPTIONS,
          kernels: { fractal_frame: FRACTAL_SIGNATURE },
        });
        programs.push(program);
        const kernel: Kernel = program.getKernel('fractal_frame', FRACTAL_SIGNATURE);
        const { width, height, pixelFormat, framesPerChunk } = format;
        const grid = [Math.ceil(width / 2 / BLOCK[0]), Math.ceil(height / 2 / BLOCK[1])] as const;
        return {
          compute(chunk: ComputeChunk<FrameRange>): void {
            const range = frameRangeOf(chunk, framesPerChunk);
            // One launch per frame: each frame's view comes from the host (Math.pow stays off the GPU).
            for (let k = 0; k < range.frames; k++) {
              const p = fractalFrameParams(range.firstFrame + k, width, cost);
              kernel.launch(
                chunk.stream,
                { grid, block: BLOCK, writes: [chunk.output] },
                chunk.output,
                k * fb,
                width,
                height,
                pixelFormat === 'rgba' ? 0 : 1,
                p.centerX,
                p.centerY,
                p.step,
                p.maxIterations,
              );
            }
          },
          referenceFrames(first: number, frames: number): Uint8Array {
            const out = new Uint8Array(frames * fb);
            for (let k = 0; k < frames; k++) out.set(renderFractalFrame(format, first + k, cost), k * fb);
            return out;
          },
        };
      },
      close() {
        for (const p of programs.splice(0)) p.close();
      },
    };
  },
};
