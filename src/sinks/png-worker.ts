// The PNG sink's worker thread, as source text built from the same functions the main thread
// uses: a worker from a string needs no file on disk, so it runs alike under tsx and compiled.
import { i420ToRgb } from '../formats/color.js';
import { pngCodec } from './png-encode.js';

export interface PngTask {
  data: ArrayBuffer;
  width: number;
  height: number;
  pixelFormat: 'rgba' | 'yuv420p';
  level: number;
}

export const PNG_WORKER_SOURCE = `
'use strict';
// Bundlers that keep function names wrap them in __name(); make that a no-op here.
var __name = (f) => f;
const { parentPort } = require('node:worker_threads');
const zlib = require('node:zlib');
const codec = (${pngCodec.toString()})(zlib);
const i420ToRgb = ${i420ToRgb.toString()};
parentPort.on('message', (task) => {
  try {
    const src = new Uint8Array(task.data);
    const png = task.pixelFormat === 'rgba'
      ? codec.encodePng({ width: task.width, height: task.height, channels: 4, pixels: src }, task.level)
      : codec.encodePng({ width: task.width, height: task.height, channels: 3, pixels: i420ToRgb(src, task.width, task.height) }, task.level);
    const out = png.byteOffset === 0 && png.byteLength === png.buffer.byteLength ? png.buffer : png.slice().buffer;
    parentPort.postMessage({ result: out }, [out]);
  } catch (err) {
    parentPort.postMessage({ error: (err && err.message) || String(err) });
  }
});
`;
