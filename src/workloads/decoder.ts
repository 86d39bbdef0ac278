// A decoder-shaped workload: the compute profile of a video VAE decoder. A latent tensor at 1/8
// of the frame size (smooth value noise drifting over time) goes through conv3x3 layers, each
// after the first fused with a nearest 2x upsampling of its input, then a conv to RGB that writes
// RGBA8 or I420 directly. Weights come from a seeded PRNG. All float32 arithmetic is separate
// IEEE mul and add in a fixed order (FMA contraction off), so the JS twin matches the GPU bytes.
import type { Stream } from '../core/types.js';
import type { Device } from '../pipeline/device.js';
import { formatBytes } from '../util/format.js';
import { UsageError } from '../util/errors.js';
import type { ComputeChunk } from '../pipeline/types.js';
import { CUDA_COLOR_SOURCE, storeBlock } from '../formats/color.js';
import { defineFakeKernels, f32, runToEnd } from './fake-kernels.js';
import {
  chunkBytes,
  frameBytes,
  frameRangeOf,
  checkedFrameFormat,
  type FrameFormat,
  type FrameRange,
} from '../formats/frame-format.js';
import type { FrameWorkload, FrameWorkloadFactory, FrameWorkloadInstance, FrameWorkloadOptions } from './types.js';
import { mulberry32 } from '../util/prng.js';

const fround = Math.fround;

export const LATENT_CHANNELS = 4;
/** Output channels of the hidden conv layers at --cost 1, from the 1/8 latent up to full size. */
export const HIDDEN_CHANNELS = [64, 32, 16, 8] as const;
/** Latent value-noise lattice: one random value every this many latent pixels. */
const NOISE_CELL = 4;
/** Keyframes of the latent every this many frames; frames between blend linearly. */
const KEYFRAME_INTERVAL = 16;

export const DECODER_SOURCE = String.raw`
${CUDA_COLOR_SOURCE}
__device__ __forceinline__ unsigned int mix_hash(unsigned int seed, unsigned int c, unsigned int x, unsigned int y, unsigned int k) {
  unsigned int h = seed ^ (c * 0x9E3779B1u) ^ (y * 0x85EBCA77u) ^ (x * 0xC2B2AE3Du) ^ (k * 0x27D4EB2Fu);
  h ^= h >> 15; h *= 0x2C1B3C6Du; h ^= h >> 12; h *= 0x297A2D39u; h ^= h >> 15;
  return h;
}
__device__ __forceinline__ float lattice(unsigned int seed, unsigned int c, unsigned int x, unsigned int y, unsigned int k) {
  return (float)(mix_hash(seed, c, x, y, k) & 0xffffu) * (1.0f / 32768.0f) - 1.0f;
}
__device__ float value_noise(unsigned int seed, unsigned int c, unsigned int x, unsigned int y, unsigned int k) {
  unsigned int cx = x / ${NOISE_CELL}u, cy = y / ${NOISE_CELL}u;
  float fx = (float)(x % ${NOISE_CELL}u) * (1.0f / ${NOISE_CELL}.0f);
  float fy = (float)(y % ${NOISE_CELL}u) * (1.0f / ${NOISE_CELL}.0f);
  float a = lattice(seed, c, cx, cy, k), b = lattice(seed, c, cx + 1u, cy, k);
  float d = lattice(seed, c, cx, cy + 1u, k), e = lattice(seed, c, cx + 1u, cy + 1u, k);
  float top = a + (b - a) * fx;
  float bottom = d + (e - d) * fx;
  return top + (bottom - top) * fy;
}

// latent[f][c][y][x] for frames first .. first + gridDim.z - 1.
extern "C" __global__ void decoder_latent(float* latent, unsigned int first, unsigned int channels,
                                          unsigned int lw, unsigned int lh, unsigned int seed, unsigned int frames) {
  unsigned int x = blockIdx.x * blockDim.x + threadIdx.x;
  unsigned int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= lw || y >= lh) return;
  unsigned int f = blockIdx.z, frame = first + f;
  if (f >= frames) return;
  unsigned int k = frame / ${KEYFRAME_INTERVAL}u;
  float t = (float)(frame % ${KEYFRAME_INTERVAL}u) * (1.0f / ${KEYFRAME_INTERVAL}.0f);
  for (unsigned int c = 0; c < channels; ++c) {
    float a = value_noise(seed, c, x, y, k), b = value_noise(seed, c, x, y, k + 1u);
    latent[(((unsigned long long)f * channels + c) * lh + y) * lw + x] = a + (b - a) * t;
  }
}

// out[f][oc][y][x] = bias[oc] + sum over ic, ky, kx of w[oc][ic][ky][kx] * in[f][ic][(y+ky-1)>>up][(x+kx-1)>>up],
// zero padding at the output resolution; the input is (out_w >> up) x (out_h >> up).
extern "C" __global__ void decoder_conv3x3(const float* in, float* out, const float* weights, unsigned int w_offset,
                                           unsigned int cin, unsigned int cout, unsigned int out_w, unsigned int out_h,
                                           unsigned int up, unsigned int relu, unsigned int frames) {
  unsigned int x = blockIdx.x * blockDim.x + threadIdx.x;
  unsigned int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= out_w || y >= out_h) return;
  unsigned int f = blockIdx.z / cout, oc = blockIdx.z % cout;
  if (f >= frames) return;
  unsigned int in_w = out_w >> up, in_h = out_h >> up;
  const float* src = in + (unsigned long long)f * cin * in_w * in_h;
  const float* w = weights + w_offset + (unsigned long long)oc * cin * 9u;
  float acc = weights[w_offset + cout * cin * 9u + oc];
  for (unsigned int ic = 0; ic < cin; ++ic) {
    for (int ky = 0; ky < 3; ++ky) {
      int yy = (int)y + ky - 1;
      if (yy < 0 || yy >= (int)out_h) continue;
      const float* row = src + ((unsigned long long)ic * in_h + ((unsigned int)yy >> up)) * in_w;
      for (int kx = 0; kx < 3; ++kx) {
        int xx = (int)x + kx - 1;
        if (xx < 0 || xx >= (int)out_w) continue;
        acc = acc + w[(ic * 3u + ky) * 3u + kx] * row[(unsigned int)xx >> up];
      }
    }
  }
  if (relu != 0u && !(acc > 0.0f)) acc = 0.0f;
  out[(((unsigned long long)f * cout + oc) * out_h + y) * out_w + x] = acc;
}

__device__ int to_byte(float v) {
  v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
  return (int)(v * 255.0f + 0.5f);
}

// The last layer: conv3x3 cin -> 3 (RGB) at full size, one thread per 2x2 block, written as pixels.
extern "C" __global__ void decoder_to_pixels(const float* in, unsigned char* out, const float* weights, unsigned int w_offset,
                                             unsigned int cin, unsigned int width, unsigned int height,
                                             unsigned int format, unsigned int frame_bytes, unsigned int frames) {
  unsigned int x0 = (blockIdx.x * blockDim.x + threadIdx.x) * 2u;
  unsigned int y0 = (blockIdx.y * blockDim.y + threadIdx.y) * 2u;
  if (x0 >= width || y0 >= height) return;
  unsigned int f = blockIdx.z;
  if (f >= frames) return;
  const float* src = in + (unsigned long long)f * cin * width * height;
  int rgb[3][4];
  for (int k = 0; k < 4; ++k) {
    unsigned int x = x0 + (k & 1), y = y0 + (k >> 1);
    for (unsigned int oc = 0; oc < 3u; ++oc) {
      const float* w = weights + w_offset + (unsigned long long)oc * cin * 9u;
      float acc = weights[w_offset + 3u * cin * 9u + oc];
      if (x < width && y < height) {
        for (unsigned int ic = 0; ic < cin; ++ic) {
          for (int ky = 0; ky < 3; ++ky) {
            int yy = (int)y + ky - 1;
            if (yy < 0 || yy >= (int)height) continue;
            const float* row = src + ((unsigned long long)ic * height + (unsigned int)yy) * width;
            for (int kx = 0; kx < 3; ++kx) {
              int xx = (int)x + kx - 1;
              if (xx < 0 || xx >= (int)width) continue;
              acc = acc + w[(ic * 3u + ky) * 3u + kx] * row[xx];
            }
          }
        }
      }
      rgb[oc][k] = to_byte(acc);
    }
  }
  store_block(out + (unsigned long long)f * frame_bytes, width, height, format, x0, y0, rgb[0], rgb[1], rgb[2]);
}
`;

export const DECODER_COMPILE_OPTIONS = ['--fmad=false'] as const;
const SIG = {
  decoder_latent: ['pointer', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32'],
  decoder_conv3x3: ['pointer', 'pointer', 'pointer', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32'],
  decoder_to_pixels: ['pointer', 'pointer', 'pointer', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32'],
} as const;

export interface DecoderLayer {
  cin: number;
  cout: number;
  /** Output size as a shift of the frame size: 3 = 1/8, 0 = full. */
  scale: number;
  /** Nearest 2x upsampling of the input, fused into the conv. */
  up: boolean;
  relu: boolean;
  /** Offset of this layer's weights (then cout biases) in the weight array, in floats. */
  offset: number;
}

export interface DecoderPlan {
  layers: DecoderLayer[];
  /** The RGB layer (cout 3, full size). */
  pixels: DecoderLayer;
  weights: Float32Array;
  /** Multiply-adds per frame, for summaries. */
  macsPerFrame: number;
}

export function decoderPlan(width: number, height: number, cost = 1, seed = 1): DecoderPlan {
  const hidden = HIDDEN_CHANNELS.map((c) => Math.max(2, Math.round(c * cost)));
  const layers: DecoderLayer[] = [];
  let offset = 0;
  let cin = LATENT_CHANNELS;
  hidden.forEach((cout, i) => {
    layers.push({ cin, cout, scale: 3 - i, up: i > 0, relu: true, offset });
    offset += cout * cin * 9 + cout;
    cin = cout;
  });
  const pixels: DecoderLayer = { cin, cout: 3, scale: 0, up: false, relu: false, offset };
  offset += 3 * cin * 9 + 3;
  const weights = new Float32Array(offset);
  const rand = mulberry32(seed);
  for (const layer of [...layers, pixels]) {
    // He-uniform keeps activations in range through the ReLUs; the RGB layer is damped and
    // biased to mid-grey so the frames use the whole 0..255 range without saturating.
    const bound = Math.sqrt(6 / (9 * layer.cin)) * (layer === pixels ? 0.2 : 1);
    const n = layer.cout * layer.cin * 9;
    for (let i = 0; i < n; i++) weights[layer.offset + i] = fround((rand() * 2 - 1) * bound);
    for (let o = 0; o < layer.cout; o++) {
      weights[layer.offset + n + o] = layer === pixels ? 0.5 : fround((rand() * 2 - 1) * 0.05);
    }
  }
  let macsPerFrame = 0;
  for (const l of [...layers, pixels]) macsPerFrame += ((width * height) >> (2 * l.scale)) * l.cin * l.cout * 9;
  return { layers, pixels, weights, macsPerFrame };
}

// ---- the JS twins -------------------------------------------------------------------------

function mixHash(seed: number, c: number, x: number, y: number, k: number): number {
  let h =
    (seed ^
      Math.imul(c, 0x9e3779b1) ^
      Math.imul(y, 0x85ebca77) ^
      Math.imul(x, 0xc2b2ae3d) ^
      Math.imul(k, 0x27d4eb2f)) >>>
    0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  h ^= h >>> 12;
  h = Math.imul(h, 0x297a2d39) >>> 0;
  h ^= h >>> 15;
  return h >>> 0;
}

function lattice(seed: number, c: number, x: number, y: number, k: number): number {
  return fround(fround((mixHash(seed, c, x, y, k) & 0xffff) * (1 / 32768)) - 1);
}

function lerp(a: number, b: number, t: number): number {
  return fround(a + fround(fround(b - a) * t));
}

function valueNoise(seed: number, c: number, x: number, y: number, k: number): number {
  const cx = Math.floor(x / NOISE_CELL),
    cy = Math.floor(y / NOISE_CELL);
  const fx = fround((x % NOISE_CELL) * fround(1 / NOISE_CELL));
  const fy = fround((y % NOISE_CELL) * fround(1 / NOISE_CELL));
  const top = lerp(lattice(seed, c, cx, cy, k), lattice(seed, c, cx + 1, cy, k), fx);
  const bottom = lerp(lattice(seed, c, cx, cy + 1, k), lattice(seed, c, cx + 1, cy + 1, k), fx);
  return lerp(top, bottom, fy);
}

export function decoderLatentJs(
  latent: Float32Array,
  first: number,
  frames: number,
  channels: number,
  lw: number,
  lh: number,
  seed: number,
): void {
  for (let f = 0; f < frames; f++) {
    const frame = first + f;
    const k = Math.floor(frame / KEYFRAME_INTERVAL);
    const t = fround((frame % KEYFRAME_INTERVAL) * fround(1 / KEYFRAME_INTERVAL));
    for (let y = 0; y < lh; y++) {
      for (let x = 0; x < lw; x++) {
        for (let c = 0; c < channels; c++) {
          latent[((f * channels + c) * lh + y) * lw + x] = lerp(
            valueNoise(seed, c, x, y, k),
            valueNoise(seed, c, x, y, k + 1),
            t,
          );
        }
      }
    }
  }
}

/** The JS twin of decoder_conv3x3, yielding after each output row (sliced on the fake device). */
export function* decoderConvRows(
  input: Float32Array,
  out: Float32Array,
  weights: Float32Array,
  wOffset: number,
  cin: number,
  cout: number,
  outW: number,
  outH: number,
  up: number,
  relu: number,
  frames: number,
): Generator<void, void, undefined> {
  const inW = outW >> up,
    inH = outH >> up;
  for (let f = 0; f < frames; f++) {
    const src = f * cin * inW * inH;
    for (let oc = 0; oc < cout; oc++) {
      const w = wOffset + oc * cin * 9;
      const bias = weights[wOffset + cout * cin * 9 + oc]!;
      const dst = (f * cout + oc) * outH * outW;
      for (let y = 0; y < outH; y++) {
        for (let x = 0; x < outW; x++) {
          let acc = bias;
          for (let ic = 0; ic < cin; ic++) {
            for (let ky = 0; ky < 3; ky++) {
              const yy = y + ky - 1;
              if (yy < 0 || yy >= outH) continue;
              const row = src + (ic * inH + (yy >> up)) * inW;
              for (let kx = 0; kx < 3; kx++) {
                const xx = x + kx - 1;
                if (xx < 0 || xx >= outW) continue;
                acc = fround(acc + fround(weights[w + (ic * 3 + ky) * 3 + kx]! * input[row + (xx >> up)]!));
              }
            }
          }
          if (relu !== 0 && !(acc > 0)) acc = 0;
          out[dst + y * outW + x] = acc;
        }
        yield;
      }
    }
  }
}

function toByte(v: number): number {
  v = v < 0 ? 0 : v > 1 ? 1 : v;
  return Math.trunc(fround(fround(v * 255) + 0.5));
}

/** The JS twin of decoder_to_pixels, yielding after each pair of rows (sliced on the fake device). */
export function* decoderToPixelsRows(
  input: Float32Array,
  out: Uint8Array,
  weights: Float32Array,
  wOffset: number,
  cin: number,
  width: number,
  height: number,
  format: number,
  frameBytesArg: number,
  frames: number,
): Generator<void, void, undefined> {
  const rgb = [new Int32Array(4), new Int32Array(4), new Int32Array(4)] as const;
  for (let f = 0; f < frames; f++) {
    const src = f * cin * width * height;
    const frame = out.subarray(f * frameBytesArg);
    for (let y0 = 0; y0 < height; y0 += 2) {
      for (let x0 = 0; x0 < width; x0 += 2) {
        for (let k = 0; k < 4; k++) {
          const x = x0 + (k & 1),
            y = y0 + (k >> 1);
          for (let oc = 0; oc < 3; oc++) {
            const w = wOffset + oc * cin * 9;
            let acc = weights[wOffset + 3 * cin * 9 + oc]!;
            if (x < width && y < height) {
              for (let ic = 0; ic < cin; ic++) {
                for (let ky = 0; ky < 3; ky++) {
                  const yy = y + ky - 1;
                  if (yy < 0 || yy >= height) continue;
                  const row = src + (ic * height + yy) * width;
                  for (let kx = 0; kx < 3; kx++) {
                    const xx = x + kx - 1;
                    if (xx < 0 || xx >= width) continue;
                    acc = fround(acc + fround(weights[w + (ic * 3 + ky) * 3 + kx]! * input[row + xx]!));
                  }
                }
              }
            }
            rgb[oc][k] = toByte(acc);
          }
        }
        storeBlock(frame, width, height, format, x0, y0, rgb[0], rgb[1], rgb[2]);
      }
      yield;
    }
  }
}

/** Renders frames on the host through the same plan: the reference the tests compare against. */
export function renderDecoderFrames(
  format: Omit<FrameFormat, 'framesPerChunk'>,
  first: number,
  frames: number,
  cost = 1,
  seed = 1,
): Uint8Array {
  const { width, height } = format;
  const plan = decoderPlan(width, height, cost, seed);
  const lw = width >> 3,
    lh = height >> 3;
  let cur = new Float32Array(frames * LATENT_CHANNELS * lw * lh);
  decoderLatentJs(cur, first, frames, LATENT_CHANNELS, lw, lh, seed);
  for (const l of plan.layers) {
    const ow = width >> l.scale,
      oh = height >> l.scale;
    const next = new Float32Array(frames * l.cout * ow * oh);
    runToEnd(
      decoderConvRows(cur, next, plan.weights, l.offset, l.cin, l.cout, ow, oh, l.up ? 1 : 0, l.relu ? 1 : 0, frames),
    );
    cur = next;
  }
  const fb = frameBytes(format);
  const out = new Uint8Array(fb * frames);
  runToEnd(
    decoderToPixelsRows(
      cur,
      out,
      plan.weights,
      plan.pixels.offset,
      plan.pixels.cin,
      width,
      height,
      format.pixelFormat === 'rgba' ? 0 : 1,
      fb,
      frames,
    ),
  );
  return out;
}

// ---- the workload --------------------------------------------------------------------------

const BLOCK = [16, 8] as const;
const MAX_GRID_Z = 65535;

// Frame counts arrive as an argument (the GPU has them in gridDim.z too) so the twins need
// nothing from the fake device's launch context.
function fakeKernels() {
  return [
    {
      name: 'decoder_latent',
      signature: SIG.decoder_latent,
      fn: (
        _ctx: unknown,
        latent: Uint8Array,
        first: number,
        channels: number,
        lw: number,
        lh: number,
        seed: number,
        frames: number,
      ) => decoderLatentJs(f32(latent), first, frames, channels, lw, lh, seed),
    },
    {
      name: 'decoder_conv3x3',
      signature: SIG.decoder_conv3x3,
      fn: (
        _ctx: unknown,
        input: Uint8Array,
        out: Uint8Array,
        w: Uint8Array,
        off: number,
        cin: number,
        cout: number,
        ow: number,
        oh: number,
        up: number,
        relu: number,
        frames: number,
      ) => decoderConvRows(f32(input), f32(out), f32(w), off, cin, cout, ow, oh, up, relu, frames),
    },
    {
      name: 'decoder_to_pixels',
      signature: SIG.decoder_to_pixels,
      fn: (
        _ctx: unknown,
        input: Uint8Array,
        out: Uint8Array,
        w: Uint8Array,
        off: number,
        cin: number,
        width: number,
        height: number,
        format: number,
        fb: number,
        frames: number,
      ) => decoderToPixelsRows(f32(input), out, f32(w), off, cin, width, height, format, fb, frames),
    },
  ];
}

export const decoder: FrameWorkloadFactory = {
  name: 'decoder',
  summary:
    'VAE-decoder-shaped stack of conv3x3 + 2x upsampling from a 1/8 latent, seeded weights; --cost scales the channels',
  create(options: FrameWorkloadOptions): FrameWorkload {
    const format = checkedFrameFormat(options);
    const { width, height, pixelFormat, framesPerChunk } = format;
    if (width % 8 !== 0 || height % 8 !== 0) {
      const w8 = Math.ceil(width / 8) * 8,
        h8 = Math.ceil(height / 8) * 8;
      throw new UsageError(
        `the decoder works from a 1/8-size latent: width and height must be multiples of 8, got ${width}x${height}; try ${w8}x${h8}`,
      );
    }
    const cost = options.cost ?? 1;
    if (!(cost > 0) || !Number.isFinite(cost)) throw new UsageError(`--cost must be a positive number, got ${cost}`);
    const seed = (options.seed ?? 1) >>> 0;
    const plan = decoderPlan(width, height, cost, seed);
    const widest = Math.max(...plan.layers.map((l) => l.cout));
    if (framesPerChunk * widest > MAX_GRID_Z) {
      throw new UsageError(
        `frames per chunk x channels (${framesPerChunk} x ${widest}) exceeds the grid limit ${MAX_GRID_Z}; use fewer frames per chunk or a lower --cost`,
      );
    }
    // Activations alternate latent→A→B→A…: A holds the tensors at even positions.
    const sizes = [
      LATENT_CHANNELS * ((width * height) >> 6),
      ...plan.layers.map((l) => l.cout * ((width * height) >> (2 * l.scale))),
    ];
    const sizeA = 4 * framesPerChunk * Math.max(...sizes.filter((_, i) => i % 2 === 0));
    const sizeB = 4 * framesPerChunk * Math.max(...sizes.filter((_, i) => i % 2 === 1));
    const fb = frameBytes(format);
    const owned: { close(): void }[] = [];
    const gflop = (2 * plan.macsPerFrame) / 1e9;

    return {
      name: 'decoder',
      outputBytes: chunkBytes(format),
      format,
      describe: `VAE-decoder-shaped conv stack, ${plan.layers.length + 1} conv3x3 layers, ${gflop.toFixed(2)} GFLOP a frame (fp32)`,
      setup(device: Device): FrameWorkloadInstance {
        defineFakeKernels(device, fakeKernels());
        const mine: { close(): void }[] = [];
        try {
          const program = device.compile(DECODER_SOURCE, {
            name: 'decoder.cu',
            options: DECODER_COMPILE_OPTIONS,
            kernels: SIG,
          });
          mine.push(program);
          const latentK = program.getKernel('decoder_latent', SIG.decoder_latent);
          const convK = program.getKernel('decoder_conv3x3', SIG.decoder_conv3x3);
          const pixelsK = program.getKernel('decoder_to_pixels', SIG.decoder_to_pixels);
          const weights = device.allocDevice(plan.weights.byteLength, 'decoder weights');
          mine.push(weights);
          const a = device.allocDevice(sizeA, `decoder activations A (${formatBytes(sizeA)})`);
          mine.push(a);
          const b = device.allocDevice(sizeB, `decoder activations B (${formatBytes(sizeB)})`);
          mine.push(b);
          // The weights go up on the first chunk's stream, ahead of its kernels; the staging
          // buffer lives until close() because the copy may still be reading it.
          const staging = device.allocPinned(plan.weights.byteLength, 'decoder weights staging');
          mine.push(staging);
          device.hostAccess(staging, 'write', 'decoder weights');
          staging.bytes.set(new Uint8Array(plan.weights.buffer, plan.weights.byteOffset, plan.weights.byteLength));
          const handoff = device.createEvent({ label: 'decoder scratch handoff' });
          mine.push(handoff);
          owned.push(...mine);
          let uploaded = false;
          let lastStream: Stream | null = null;
          return {
            compute(chunk: ComputeChunk<FrameRange>): void {
              const { firstFrame: first, frames } = frameRangeOf(chunk, framesPerChunk);
              if (frames <= 0) return;
              const s = chunk.stream;
              // The scratch activations are shared by all chunks: fine on one compute stream (its
              // order serialises them); if a chunk comes on another stream, order it after the last.
              if (lastStream && lastStream !== s && !lastStream.closed) {
                handoff.record(lastStream);
                s.waitEvent(handoff);
              }
              lastStream = s;
              if (!uploaded) {
                device.copy(s, weights, staging);
                uploaded = true;
              }
              const lw = width >> 3,
                lh = height >> 3;
              latentK.launch(
                s,
                { grid: [Math.ceil(lw / BLOCK[0]), Math.ceil(lh / BLOCK[1]), frames], block: BLOCK, writes: [a] },
                a,
                first,
                LATENT_CHANNELS,
                lw,
                lh,
                seed,
                frames,
              );
              let src = a,
                dst = b;
              for (const l of plan.layers) {
                const ow = width >> l.scale,
                  oh = height >> l.scale;
                convK.launch(
                  s,
                  {
                    grid: [Math.ceil(ow / BLOCK[0]), Math.ceil(oh / BLOCK[1]), frames * l.cout],
                    block: BLOCK,
                    reads: [src, weights],
                    writes: [dst],
                  },
                  src,
                  dst,
                  weights,
                  l.offset,
                  l.cin,
                  l.cout,
                  ow,
                  oh,
                  l.up ? 1 : 0,
                  l.relu ? 1 : 0,
                  frames,
                );
                [src, dst] = [dst, src];
              }
              const p = plan.pixels;
              pixelsK.launch(
                s,
                {
                  grid: [Math.ceil(width / 2 / BLOCK[0]), Math.ceil(height / 2 / BLOCK[1]), frames],
                  block: BLOCK,
                  reads: [src, weights],
                  writes: [chunk.output],
                },
                src,
                chunk.output,
                weights,
                p.offset,
                p.cin,
                width,
                height,
                pixelFormat === 'rgba' ? 0 : 1,
                fb,
                frames,
              );
            },
            referenceFrames: (first: number, frames: number) => renderDecoderFrames(format, first, frames, cost, seed),
          };
        } catch (err) {
          for (const r of mine.reverse()) {
            try {
              r.close();
            } catch {
              /* keep the first error */
            }
          }
          throw err;
        }
      },
      close() {
        for (const r of owned.splice(0).reverse()) {
          try {
            r.close();
          } catch {
            /* close the rest */
          }
        }
      },
    };
  },
};
