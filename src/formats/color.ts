// RGB → YUV (BT.709, limited range) and back, in the 8-bit integer form the GPU kernels use too,
// so the GPU and the fake device produce the same bytes. Coefficients are BT.709's scaled by 256
// (Kr 0.2126, Kb 0.0722; Y in 16..235, Cb/Cr in 16..240), the same fixed-point form as libyuv.

/** The CUDA C++ of the same conversion, pasted into the workload kernels. */
export const CUDA_COLOR_SOURCE = String.raw`
__device__ __forceinline__ unsigned char bt709_y(int r, int g, int b) {
  return (unsigned char)(((47 * r + 157 * g + 16 * b + 128) >> 8) + 16);
}
__device__ __forceinline__ unsigned char bt709_u(int r, int g, int b) {
  return (unsigned char)(((-26 * r - 86 * g + 112 * b + 128) >> 8) + 128);
}
__device__ __forceinline__ unsigned char bt709_v(int r, int g, int b) {
  return (unsigned char)(((112 * r - 102 * g - 10 * b + 128) >> 8) + 128);
}
// Writes a 2x2 block of pixels (rgb[0..3] = top-left, top-right, bottom-left, bottom-right) as
// RGBA8 or I420. x0, y0 even. The block may stick out of an odd-sized RGBA frame: skip those.
__device__ __forceinline__ void store_block(unsigned char* frame, unsigned int width, unsigned int height,
                                           unsigned int format, unsigned int x0, unsigned int y0,
                                           const int* r, const int* g, const int* b) {
  if (format == 0u) {
    for (int k = 0; k < 4; ++k) {
      unsigned int x = x0 + (k & 1), y = y0 + (k >> 1);
      if (x >= width || y >= height) continue;
      unsigned char* p = frame + ((unsigned long long)y * width + x) * 4u;
      p[0] = (unsigned char)r[k]; p[1] = (unsigned char)g[k]; p[2] = (unsigned char)b[k]; p[3] = 255;
    }
  } else {
    for (int k = 0; k < 4; ++k) {
      unsigned int x = x0 + (k & 1), y = y0 + (k >> 1);
      frame[(unsigned long long)y * width + x] = bt709_y(r[k], g[k], b[k]);
    }
    int ra = (r[0] + r[1] + r[2] + r[3] + 2) >> 2;
    int ga = (g[0] + g[1] + g[2] + g[3] + 2) >> 2;
    int ba = (b[0] + b[1] + b[2] + b[3] + 2) >> 2;
    unsigned long long cw = width / 2u, ch = height / 2u;
    unsigned long long ci = (unsigned long long)(y0 / 2u) * cw + x0 / 2u;
    unsigned char* u = frame + (unsigned long long)width * height;
    u[ci] = bt709_u(ra, ga, ba);
    u[cw * ch + ci] = bt709_v(ra, ga, ba);
  }
}
`;

export function bt709Y(r: number, g: number, b: number): number {
  return ((47 * r + 157 * g + 16 * b + 128) >> 8) + 16;
}
export function bt709U(r: number, g: number, b: number): number {
  return ((-26 * r - 86 * g + 112 * b + 128) >> 8) + 128;
}
export function bt709V(r: number, g: number, b: number): number {
  return ((112 * r - 102 * g - 10 * b + 128) >> 8) + 128;
}

/** The JS twin of store_block(): r, g, b hold the 2x2 block in the same order. */
export function storeBlock(
  frame: Uint8Array,
  width: number,
  height: number,
  format: number,
  x0: number,
  y0: number,
  r: ArrayLike<number>,
  g: ArrayLike<number>,
  b: ArrayLike<number>,
): void {
  if (format === 0) {
    for (let k = 0; k < 4; k++) {
      const x = x0 + (k & 1),
        y = y0 + (k >> 1);
      if (x >= width || y >= height) continue;
      const p = (y * width + x) * 4;
      frame[p] = r[k]!;
      frame[p + 1] = g[k]!;
      frame[p + 2] = b[k]!;
      frame[p + 3] = 255;
    }
    return;
  }
  for (let k = 0; k < 4; k++) {
    const x = x0 + (k & 1),
      y = y0 + (k >> 1);
    frame[y * width + x] = bt709Y(r[k]!, g[k]!, b[k]!);
  }
  const ra = (r[0]! + r[1]! + r[2]! + r[3]! + 2) >> 2;
  const ga = (g[0]! + g[1]! + g[2]! + g[3]! + 2) >> 2;
  const ba = (b[0]! + b[1]! + b[2]! + b[3]! + 2) >> 2;
  const cw = width >> 1,
    ch = height >> 1;
  const ci = (y0 >> 1) * cw + (x0 >> 1);
  const uBase = width * height;
  frame[uBase + ci] = bt709U(ra, ga, ba);
  frame[uBase + cw * ch + ci] = bt709V(ra, ga, ba);
}

/**
 * I420 (BT.709 limited) → packed RGB8, nearest chroma: for the PNG sink, which writes what a
 * viewer shows. Fixed point (×8192) keeps it exact and fast on a worker thread. Self-contained:
 * the PNG sink's workers are built from its source text.
 */
export function i420ToRgb(
  src: Uint8Array,
  width: number,
  height: number,
  out: Uint8Array = new Uint8Array(width * height * 3),
): Uint8Array {
  const cw = width >> 1,
    ch = height >> 1;
  const uBase = width * height,
    vBase = uBase + cw * ch;
  for (let y = 0; y < height; y++) {
    const crow = (y >> 1) * cw;
    for (let x = 0; x < width; x++) {
      const c = (src[y * width + x]! - 16) * 9539; // 255/219 × 8192
      const d = src[uBase + crow + (x >> 1)]! - 128;
      const e = src[vBase + crow + (x >> 1)]! - 128;
      const o = (y * width + x) * 3;
      const r = (c + 14744 * e + 4096) >> 13,
        g = (c - 1754 * d - 4383 * e + 4096) >> 13,
        b = (c + 17373 * d + 4096) >> 13;
      // 1.5748·255/224, 0.1873·…, 0.4681·…, 1.8556·…, all × 8192
      out[o] = r < 0 ? 0 : r > 255 ? 255 : r;
      out[o + 1] = g < 0 ? 0 : g > 255 ? 255 : g;
      out[o + 2] = b < 0 ? 0 : b > 255 ? 255 : b;
    }
  }
  return out;
}
