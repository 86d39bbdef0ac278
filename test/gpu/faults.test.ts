// The GPU-only part of the fault matrix and of the bad-input list, on a real device:
// out of device / pinned memory, bad sizes, launch shapes and arguments, NVRTC errors, pageable
// memory, use after close, sink failure and abort with cuMemGetInfo back to baseline, and last
// (it loses the context) a kernel writing to an illegal address: CUDA_ERROR_ILLEGAL_ADDRESS, the
// lost context said clearly, no hang.
//   bash .gpu-host/run.sh node --test dist/test/gpu/faults.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { driverAvailable } from '../../src/core/open.js';
import { open } from '../../src/pipeline/device.js';
import { CudaError, NvrtcError } from '../../src/cuda/errors.js';
import { UsageError } from '../../src/util/errors.js';
import type { PinnedBuffer } from '../../src/core/types.js';
import type { Device } from '../../src/pipeline/device.js';
import { checked } from '../../src/check/index.js';
import { createPipeline, PipelineError } from '../../src/pipeline/index.js';
import { freeAfterRuns, settledFree } from './memory.js';

const avail = driverAvailable();
const skip = avail.ok ? false : `no CUDA driver: ${avail.reason}`;

const SOURCE = `
extern "C" __global__ void stamp(unsigned int* out, unsigned int words, unsigned int chunk) {
  unsigned int w = blockIdx.x * blockDim.x + threadIdx.x;
  if (w < words) out[w] = chunk * 2654435761u + w;
}
extern "C" __global__ void wild(unsigned int* out, unsigned long long bad, unsigned int chunk) {
  if (chunk == 3 && threadIdx.x == 0 && blockIdx.x == 0) *(volatile unsigned int*)bad = 1u;
  else out[threadIdx.x] = chunk;
}
`;
const KERNELS = { stamp: ['pointer', 'u32', 'u32'], wild: ['pointer', 'u64', 'u32'] } as const;
const MiB = 1024 * 1024;

let device: Device | null = null;
async function dev(): Promise<Device> {
  device ??= await open(0);
  return device;
}

const usage = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof UsageError, `a UsageError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
  assert.match(e.message, re);
  return true;
};

/** cuMemGetInfo moves in 2 MiB pages and the driver keeps a little for itself: ours must come back to within 4 MiB. */
/** Nothing in use, and with the pools of `d` (and of `also`, devices wrapping it) trimmed, free memory as before. */
async function assertFreeBack(d: Device, before: number, what: string, ...also: Device[]): Promise<void> {
  const after = await freeAfterRuns(what, d, ...also);
  assert.ok(Math.abs(after - before) <= 4 * MiB, `${what}: cuMemGetInfo free ${before} → ${after}`);
}

test(
  'out of device memory: CUDA_ERROR_OUT_OF_MEMORY saying how much was asked and what is free',
  { skip, timeout: 60_000 },
  async () => {
    const d = await dev();
    const k = d.compile(SOURCE, { name: 'faults.cu', kernels: KERNELS }).getKernel('stamp');
    const before = await settledFree(d);
    assert.throws(
      () => d.allocDevice(d.memoryInfo().total * 2, 'huge'),
      (e: Error) => {
        assert.ok(e instanceof CudaError);
        assert.match(e.message, /^CUDA_ERROR_OUT_OF_MEMORY: .*cuMemAlloc/);
        assert.match(e.message, /free device memory or use smaller chunks/);
        return true;
      },
    );
    // A pipeline whose ring cannot fit next to a big allocation: the error, nothing left allocated.
    // (The ballast keeps the pinned side small: each slot pins as much host memory as its VRAM.)
    const ballast = d.allocDevice(before - 80 * MiB, 'ballast');
    try {
      const p = createPipeline(d, {
        outputBytes: 32 * MiB,
        depth: 4,
        compute: (c) => k.launch(c.stream, { grid: 1, block: 1 }, c.output, 1, c.index),
      });
      let caught: unknown = null;
      await p.run(8).catch((e: unknown) => (caught = e));
      p.close();
      assert.ok(caught instanceof Error, String(caught));
      assert.match(caught.message, /CUDA_ERROR_OUT_OF_MEMORY/);
    } finally {
      ballast.close();
    }
    await assertFreeBack(d, before, 'after the failed ring allocation');
  },
);

test('out of pinned memory: cuMemHostAlloc of more than the machine has fails clearly', { skip }, async () => {
  const d = await dev();
  assert.throws(
    () => d.allocPinned(2 ** 44, 'too much pinned'),
    (e: Error) => {
      assert.ok(e instanceof CudaError, `${e.name}: ${e.message}`);
      assert.match(e.message, /CUDA_ERROR_OUT_OF_MEMORY|CUDA_ERROR_INVALID_VALUE/);
      return true;
    },
  );
});

test('bad sizes: zero, negative, fractional, NaN are UsageErrors before the driver sees them', { skip }, async () => {
  const d = await dev();
  for (const bad of [0, -1, 1.5, NaN, Infinity]) {
    assert.throws(
      () => d.allocDevice(bad),
      usage(/allocDevice: size must be a positive integer/),
      `allocDevice(${bad})`,
    );
    assert.throws(
      () => d.allocPinned(bad),
      usage(/allocPinned: size must be a positive integer/),
      `allocPinned(${bad})`,
    );
  }
});

test('launch shape and arguments out of range: UsageErrors naming what to change', { skip }, async () => {
  const d = await dev();
  const k = d.compile(SOURCE, { name: 'faults.cu', kernels: KERNELS }).getKernel('stamp');
  const s = d.createStream({ label: 'bad-launch' });
  const b = d.allocDevice(4096, 'b');
  try {
    assert.throws(() => k.launch(s, { grid: 0, block: 32 }, b, 1, 0), usage(/grid\.x must be a positive integer/));
    assert.throws(
      () => k.launch(s, { grid: 1, block: 2048 }, b, 1, 0),
      usage(/block\.x = 2048 exceeds this device's limit/),
    );
    assert.throws(() => k.launch(s, { grid: [1, 70000], block: 32 }, b, 1, 0), usage(/grid\.y = 70000 exceeds/));
    assert.throws(() => k.launch(s, { grid: 1, block: 32, sharedMemBytes: 1 << 30 }, b, 1, 0), usage(/sharedMemBytes/));
    // @ts-expect-error -- one argument short
    assert.throws(() => k.launch(s, { grid: 1, block: 32 }, b, 1), usage(/takes 3 arguments/));
    assert.throws(
      () => k.launch(s, { grid: 1, block: 32 }, b, -1, 0),
      usage(/argument 1 \(u32\).*expected an integer/),
    );
    assert.throws(
      // @ts-expect-error -- a number where the signature says pointer
      () => k.launch(s, { grid: 1, block: 32 }, 5, 1, 0),
      usage(/argument 0 \(pointer\).*expected a DeviceBuffer or a bigint/),
    );
    const pinned = d.allocPinned(16, 'pinned arg');
    assert.throws(
      () => k.launch(s, { grid: 1, block: 32 }, pinned as never, 1, 0),
      usage(/PinnedBuffer; kernels take device memory/),
    );
    pinned.close();
  } finally {
    b.close();
    s.close();
  }
});

test('NVRTC compile error: NvrtcError with the compiler log (file, line, message)', { skip }, async () => {
  const d = await dev();
  assert.throws(
    () => d.compile('extern "C" __global__ void broken(int* p) { p[0] = undefined_name; }', { name: 'broken.cu' }),
    (e: Error) => {
      assert.ok(e instanceof NvrtcError, `${e.name}: ${e.message}`);
      assert.match(e.message, /NVRTC_ERROR_COMPILATION/);
      assert.match(e.log, /broken\.cu\(1\).*undefined_name|undefined_name.*undefined/);
      return true;
    },
  );
});

test(
  'a pageable Uint8Array where pinned memory is required: a UsageError that says to use pinned memory',
  { skip },
  async () => {
    const d = await dev();
    const s = d.createStream();
    const b = d.allocDevice(64, 'b');
    try {
      const pageable = new Uint8Array(64) as unknown as PinnedBuffer;
      // Not "a host copy": the fix is pinned memory (allocPinned) or page-locking it (registerHost).
      assert.throws(() => d.copy(s, pageable, b), usage(/pageable|not pinned|allocPinned|registerHost/));
      assert.throws(() => d.copy(s, b, pageable), usage(/pageable|not pinned|allocPinned|registerHost/));
    } finally {
      b.close();
      s.close();
    }
  },
);

test('use after close: UsageErrors naming the resource and what to do; close twice is harmless', { skip }, async () => {
  const d = await dev();
  const s = d.createStream({ label: 'copy' });
  const e = d.createEvent({ label: 'done' });
  const b = d.allocDevice(64, 'out');
  const p = d.allocPinned(64, 'pin');
  for (const r of [s, e, b, p]) {
    r.close();
    r.close();
  }
  const s2 = d.createStream();
  try {
    assert.throws(() => d.copy(s, p, b), usage(/copy|out|pin/));
    assert.throws(() => e.record(s2), usage(/done/));
    assert.throws(() => p.bytes, usage(/pin/));
  } finally {
    s2.close();
  }
});

test(
  'sink throws and abort on the GPU: PipelineError(sink, n) / the abort reason, cuMemGetInfo back to baseline, checker silent',
  { skip, timeout: 60_000 },
  async () => {
    const d = await dev();
    const cd = checked(d);
    const k = cd.compile(SOURCE, { name: 'faults.cu', kernels: KERNELS }).getKernel('stamp');
    const before = await settledFree(d, cd);
    // 16 MiB × depth 3: a leaked ring (48 MiB) would show far beyond the tolerance.
    const bytes = 16 * MiB;
    const words = bytes / 4;
    const mk = (sink: (c: { index: number; data: Uint8Array }) => void | Promise<void>) =>
      createPipeline(cd, {
        outputBytes: bytes,
        depth: 3,
        compute: (c) =>
          k.launch(c.stream, { grid: words / 256, block: 256, writes: [c.output] }, c.output, words, c.index),
        sink,
      });
    const delivered: number[] = [];
    const p = mk((c) => {
      if (c.index === 9) throw new Error('sink bug');
      const w = new Uint32Array(c.data.buffer, c.data.byteOffset, words);
      if (
        w[words - 1] !== (Math.imul(c.index, 2654435761) + words - 1) >>> 0 ||
        w[0] !== Math.imul(c.index, 2654435761) >>> 0
      )
        throw new Error(`chunk ${c.index} corrupted`);
      delivered.push(c.index);
    });
    await assert.rejects(
      p.run(100),
      (e: unknown) => e instanceof PipelineError && e.stage === 'sink' && e.chunk === 9 && /sink bug/.test(e.message),
    );
    p.close();
    assert.deepEqual(delivered, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    await assertFreeBack(d, before, 'after the sink fault', cd);

    const ac = new AbortController();
    const q = mk((c) => {
      if (c.index === 20) ac.abort(new Error('user stop'));
    });
    await assert.rejects(q.run(1000, { signal: ac.signal }), /user stop/);
    q.close();
    await assertFreeBack(d, before, 'after the abort', cd);
    assert.deepEqual(cd.hazards, []);
  },
);

test(
  'kernel writes to an illegal address: CUDA_ERROR_ILLEGAL_ADDRESS, the lost context said, no hang (runs last)',
  { skip, timeout: 60_000 },
  async () => {
    const d = await dev();
    const k = d.compile(SOURCE, { name: 'faults.cu', kernels: KERNELS }).getKernel('wild');
    const delivered: number[] = [];
    const p = createPipeline(d, {
      outputBytes: 4096,
      depth: 2,
      compute: (c) => k.launch(c.stream, { grid: 1, block: 32 }, c.output, 0x10n, c.index),
      sink: (c) => void delivered.push(c.index),
    });
    let caught: unknown = null;
    await p.run(50).catch((e: unknown) => (caught = e));
    p.close();
    assert.ok(caught instanceof PipelineError, String(caught));
    assert.match(caught.message, /CUDA_ERROR_ILLEGAL_ADDRESS/);
    assert.match(caught.message, /context is lost/);
    // The fault is asynchronous: the call that reports it may belong to a chunk enqueued after it.
    console.error(`  reported as stage '${caught.stage}', chunk ${caught.chunk}: ${caught.message}`);
    assert.ok(caught.chunk >= 0 && caught.chunk <= 3 + 2 + 1, `names a chunk near the faulting one (${caught.chunk})`);
    assert.ok(
      delivered.every((n, i) => n === i) && delivered.length <= 3,
      `delivered before the fault: ${delivered.join(',')}`,
    );
    // Every later call says the same, rather than hanging or crashing.
    assert.throws(() => d.allocDevice(4096, 'after the fault'), /CUDA_ERROR_ILLEGAL_ADDRESS/);
    // Closing a faulted device does not throw or hang.
    await d[Symbol.asyncDispose]();
    device = null;
  },
);
