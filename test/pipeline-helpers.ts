// Shared by the pipeline tests: a seeded PRNG, the synthetic kernel on a fake device with random
// costs, delays of every kind, and the leak / unhandled-rejection checks.
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { FakeDevice, type FakeDeviceOptions } from '../src/testing/index.js';
import {
  SYNTHETIC_KERNEL,
  SYNTHETIC_SIGNATURE,
  syntheticLauncher,
  syntheticWords,
  syntheticReference,
} from '../src/workloads/synthetic.js';
import type { ComputeChunk } from '../src/pipeline/index.js';
import { mulberry32 as prng } from '../src/util/prng.js';
export { prng };

/** A host-side delay drawn from: none, a microtask, a macrotask. Real time stays tiny. */
export async function randomDelay(rand: () => number): Promise<void> {
  const r = rand();
  if (r < 0.4) return;
  if (r < 0.7) return Promise.resolve();
  await tick();
}

export interface Rig {
  fake: FakeDevice;
  /** compute() for a pipeline: the synthetic kernel with `iters`. */
  compute: (chunk: ComputeChunk<unknown>) => void;
  reference: (index: number, input?: Uint8Array) => Uint8Array;
}

/** A fake device with tandem_synthetic whose cost (and every copy's cost) is random. */
export function rig(seed: number, outputBytes: number, iters = 1, options: FakeDeviceOptions = {}): Rig {
  const rand = prng(seed);
  const fake = new FakeDevice({ copyCostMs: () => 0.001 + rand() * 0.05, ...options });
  fake.defineKernel(
    SYNTHETIC_KERNEL,
    SYNTHETIC_SIGNATURE,
    (_ctx, out, input, words, chunk, it, inWords) => {
      const o = out as Uint8Array;
      const iw = Number(inWords);
      const src = iw ? new Uint32Array((input as Uint8Array).slice(0, iw * 4).buffer) : undefined;
      syntheticWords(new Uint32Array(o.buffer, o.byteOffset, Number(words)), chunk as number, it as number, src);
    },
    () => 0.001 + rand() * 0.05,
  );
  const kernel = fake.compile('synthetic').getKernel(SYNTHETIC_KERNEL);
  const launch = syntheticLauncher(fake, kernel, outputBytes, 32);
  return {
    fake,
    compute: (c) => launch(c.stream, c.output, c.input, c.index, iters, c.input ? c.input.byteLength : 0),
    reference: (index, input) => syntheticReference(outputBytes, index, iters, input),
  };
}

export function assertNoLeaks(fake: FakeDevice, what = ''): void {
  // The pool keeps what runs handed back; trim() frees it, and what stays open then leaked.
  fake.pool.trim();
  assert.deepEqual(
    fake.liveResources(),
    { streams: 0, events: 0, deviceBuffers: 0, pinnedBuffers: 0, deviceBytes: 0, pinnedBytes: 0 },
    `leaked resources ${what}`,
  );
  assert.equal(fake.memoryInfo().free, fake.memoryInfo().total, `device memory not back to baseline ${what}`);
}

/** Collects unhandled rejections for the file; check with assertNoUnhandled() at the end. */
export function watchUnhandled(): () => void {
  const seen: unknown[] = [];
  process.on('unhandledRejection', (e) => seen.push(e));
  return () => assert.deepEqual(seen, [], 'unhandled rejections');
}

/** Deterministic input bytes of chunk n. */
export function inputBytesOf(n: number, size: number): Uint8Array {
  const r = prng(n * 7919 + 1);
  const b = new Uint8Array(size);
  for (let k = 0; k < size; k++) b[k] = (r() * 256) | 0;
  return b;
}

export { tick };
