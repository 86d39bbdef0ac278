// The shape of the frames a workload writes and a sink reads: size, pixel layout, and how many
// frames one pipeline chunk carries. Sinks need it to split a chunk into frames and to tell
// ffmpeg what arrives on its stdin.
import { UsageError } from '../util/errors.js';

/** 'rgba': 4 bytes a pixel. 'yuv420p': I420 planar (Y, then U, then V at half resolution), 1.5 bytes a pixel. */
export type PixelFormat = 'rgba' | 'yuv420p';

/** The pixel formats frames may have: 8-bit RGBA, or planar YUV 4:2:0 (I420). */
export const PIXEL_FORMATS: readonly PixelFormat[] = ['rgba', 'yuv420p'];

/** The frames of a run: size, pixel format, and how many frames one chunk holds. */
export interface FrameFormat {
  width: number;
  height: number;
  pixelFormat: PixelFormat;
  /** Frames in one full chunk; the last chunk of a run may carry fewer (see FrameRange). */
  framesPerChunk: number;
}

/** The pipeline item of a frame workload: which frames chunk n holds. */
export interface FrameRange {
  /** Index of the chunk's first frame in the whole run. */
  firstFrame: number;
  /** Frames in this chunk (framesPerChunk, or fewer for the last one). */
  frames: number;
}

export const MAX_WIDTH = 7680;
export const MAX_HEIGHT = 4320;

/** Bytes of one frame of that size and pixel format. */
export function frameBytes(format: Pick<FrameFormat, 'width' | 'height' | 'pixelFormat'>): number {
  const px = format.width * format.height;
  return format.pixelFormat === 'rgba' ? px * 4 : px + 2 * ((format.width / 2) * (format.height / 2));
}

/** Bytes of one chunk: framesPerChunk frames. */
export function chunkBytes(format: FrameFormat): number {
  return frameBytes(format) * format.framesPerChunk;
}

/** The frame format among `options` (a workload's, which carry more), checked by validateFrameFormat. */
export function checkedFrameFormat(options: FrameFormat): FrameFormat {
  const { width, height, pixelFormat, framesPerChunk } = options;
  const format = { width, height, pixelFormat, framesPerChunk };
  validateFrameFormat(format);
  return format;
}

/** Throws a UsageError that says what to change. */
export function validateFrameFormat(format: FrameFormat): void {
  const { width, height, pixelFormat, framesPerChunk } = format;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 2 || height < 2) {
    throw new UsageError(
      `frame size ${width}x${height} is not valid: give whole numbers of pixels, at least 2x2 (e.g. 1920x1080)`,
    );
  }
  if (width > MAX_WIDTH || height > MAX_HEIGHT) {
    throw new UsageError(
      `frame size ${width}x${height} is larger than ${MAX_WIDTH}x${MAX_HEIGHT}; choose a smaller size`,
    );
  }
  if (!PIXEL_FORMATS.includes(pixelFormat)) {
    throw new UsageError(`pixel format '${String(pixelFormat)}' is not supported: use ${PIXEL_FORMATS.join(' or ')}`);
  }
  if (pixelFormat === 'yuv420p' && (width % 2 !== 0 || height % 2 !== 0)) {
    throw new UsageError(
      `yuv420p needs an even width and height, got ${width}x${height}; use e.g. ${width + (width % 2)}x${height + (height % 2)} or --format rgba`,
    );
  }
  if (!Number.isInteger(framesPerChunk) || framesPerChunk < 1 || framesPerChunk > 256) {
    throw new UsageError(`frames per chunk must be a whole number from 1 to 256, got ${framesPerChunk}`);
  }
}

/** "1920x1080" → { width, height }; a UsageError naming the expected form otherwise. */
export function parseFrameSize(text: string): { width: number; height: number } {
  const m = /^\s*(\d+)\s*[x×X]\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UsageError(`--size '${text}' is not WIDTHxHEIGHT; write it like 1920x1080`);
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** Frames in chunk `index` of a run of `totalFrames` frames. */
export function frameRange(index: number, framesPerChunk: number, totalFrames: number): FrameRange {
  const firstFrame = index * framesPerChunk;
  return { firstFrame, frames: Math.max(0, Math.min(framesPerChunk, totalFrames - firstFrame)) };
}

/** The pipeline input for a run: one FrameRange per chunk. */
export function* frameRanges(totalFrames: number, framesPerChunk: number): Generator<FrameRange> {
  for (let i = 0; i * framesPerChunk < totalFrames; i++) yield frameRange(i, framesPerChunk, totalFrames);
}

/** Frames a chunk carries: from its item when it is a FrameRange, else a full chunk. */
export function framesInChunk(item: unknown, format: FrameFormat): number {
  if (item && typeof item === 'object' && 'frames' in item && typeof (item as FrameRange).frames === 'number') {
    return (item as FrameRange).frames;
  }
  return format.framesPerChunk;
}

/** Index of the chunk's first frame: from its FrameRange item, else index × framesPerChunk. */
export function firstFrameOf(chunkIndex: number, item: unknown, format: FrameFormat): number {
  if (item && typeof item === 'object' && 'firstFrame' in item && typeof (item as FrameRange).firstFrame === 'number') {
    return (item as FrameRange).firstFrame;
  }
  return chunkIndex * format.framesPerChunk;
}

/** The frames a compute chunk must produce: its FrameRange item, or a full chunk by index. */
export function frameRangeOf(chunk: { index: number; item: unknown }, framesPerChunk: number): FrameRange {
  const item = chunk.item as Partial<FrameRange> | null | undefined;
  if (item && typeof item === 'object' && typeof item.frames === 'number' && typeof item.firstFrame === 'number') {
    return { firstFrame: item.firstFrame, frames: item.frames };
  }
  return { firstFrame: chunk.index * framesPerChunk, frames: framesPerChunk };
}
