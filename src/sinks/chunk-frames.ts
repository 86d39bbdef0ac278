// Splits a pipeline chunk into its frames (zero-copy views of the pinned slot).
import type { OutputChunk } from '../pipeline/types.js';
import { firstFrameOf, frameBytes, framesInChunk, type FrameFormat } from '../formats/frame-format.js';

export interface ChunkFrames {
  firstFrame: number;
  /** One view per frame, over the chunk's pinned memory: valid only while the chunk is held. */
  frames: Uint8Array[];
  /** The chunk's frame bytes, contiguous (a view too). */
  bytes: Uint8Array;
}

export function chunkFrames(chunk: OutputChunk<unknown>, format: FrameFormat): ChunkFrames {
  const fb = frameBytes(format);
  const n = Math.min(framesInChunk(chunk.item, format), Math.floor(chunk.data.byteLength / fb));
  const frames: Uint8Array[] = [];
  for (let k = 0; k < n; k++) frames.push(chunk.data.subarray(k * fb, (k + 1) * fb));
  return { firstFrame: firstFrameOf(chunk.index, chunk.item, format), frames, bytes: chunk.data.subarray(0, n * fb) };
}
