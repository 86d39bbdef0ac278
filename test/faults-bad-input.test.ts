// Bad input at the object-model level: each mistake gets a UsageError that says what to change,
// on the fake device (through the hazard checker too, which must pass errors through untouched)
// and in the real device's own validation code (launch shape, kernel argument packing), which
// runs without a GPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checked } from '../src/check/index.js';
import { FakeDevice } from '../src/testing/index.js';
import { UsageError } from '../src/util/errors.js';
import { normalizeLaunch } from '../src/core/launch-config.js';
import { KernelArgs } from '../src/core/kernel-args.js';
import type { DeviceBuffer, KernelArg, PinnedBuffer } from '../src/core/types.js';
import type { Device } from '../src/pipeline/device.js';

function devices(): Array<[string, Device, FakeDevice]> {
  const a = new FakeDevice({ totalMemory: 1 << 20 });
  const b = new FakeDevice({ totalMemory: 1 << 20 });
  return [
    ['fake', a, a],
    ['checked(fake)', checked(b), b],
  ];
}

const usage = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof UsageError, `a UsageError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
  assert.match(e.message, re);
  return true;
};

test('allocation sizes: negative, fractional, NaN, Infinity are UsageErrors naming the call and the value', () => {
  for (const [name, dev] of devices()) {
    for (const bad of [-1, 1.5, NaN, Infinity, -0.5]) {
      assert.throws(
        () => dev.allocDevice(bad, 'x'),
        usage(new RegExp(`allocDevice: .*${String(bad).replace('.', '\\.')}`)),
        `${name} allocDevice(${bad})`,
      );
      assert.throws(() => dev.allocPinned(bad, 'x'), usage(/allocPinned: .*integer/), `${name} allocPinned(${bad})`);
    }
  }
});

test('allocation size zero is rejected as the real device rejects it (cuMemAlloc of 0 bytes is CUDA_ERROR_INVALID_VALUE)', () => {
  for (const [name, dev] of devices()) {
    assert.throws(() => dev.allocDevice(0, 'empty'), usage(/allocDevice: size must be a positive integer/), name);
    assert.throws(() => dev.allocPinned(0, 'empty'), usage(/allocPinned: size must be a positive integer/), name);
  }
});

test('larger than device memory: CUDA_ERROR_OUT_OF_MEMORY with what was asked and what is free', () => {
  for (const [name, dev] of devices()) {
    assert.throws(
      () => dev.allocDevice(2 << 20, 'huge'),
      (e: Error) => {
        assert.equal(e.name, 'CudaError', name);
        assert.match(
          e.message,
          /^CUDA_ERROR_OUT_OF_MEMORY: .*2 MiB asked, 1 MiB free.*free device memory or use smaller chunks/,
        );
        return true;
      },
    );
  }
});

test('grid and block out of range, on the fake and in the real launch normaliser', () => {
  for (const [name, dev, fake] of devices()) {
    fake.defineKernel('k', ['pointer'], () => {});
    const k = dev.compile('', { kernels: { k: ['pointer'] } }).getKernel('k');
    const s = dev.createStream();
    const b = dev.allocDevice(16, 'b');
    const bad: Array<[unknown, unknown, RegExp]> = [
      [0, 32, /grid.*positive integers?/],
      [1, 2048, /block.*1024 threads|more than 1024/],
      [1.5, 32, /grid.*positive integers?/],
      [[1, 1, 1, 1], 32, /grid.*1 to 3/],
      [[1, 70000], 32, /grid.*(too large|65535)/],
      [1, [1, 1, 128], /block.*(z is at most 64|64)/],
    ];
    for (const [grid, block, re] of bad) {
      assert.throws(
        () => k.launch(s, { grid: grid as number, block: block as number }, b),
        usage(re),
        `${name} grid ${JSON.stringify(grid)} block ${JSON.stringify(block)}`,
      );
    }
  }
  const cases: Array<[unknown, unknown, number | undefined, RegExp]> = [
    [
      0,
      32,
      undefined,
      /grid\.x must be a positive integer; got 0 \(round the chunk size up: Math\.ceil\(n \/ block\)\)/,
    ],
    [-4, 32, undefined, /grid\.x must be a positive integer; got -4/],
    [NaN, 32, undefined, /grid\.x must be a positive integer; got null|got NaN/],
    [
      1,
      2048,
      undefined,
      /block\.x = 2048 exceeds this device's limit of 1024; move threads to another axis or to the grid/,
    ],
    [
      1,
      [32, 32, 2],
      undefined,
      /block \[32, 32, 2\] has 2048 threads; this device allows 1024 per block: use a smaller block and a larger grid/,
    ],
    [
      [1, 70000],
      32,
      undefined,
      /grid\.y = 70000 exceeds this device's limit of 65535; use larger blocks, another axis, or a grid-stride loop/,
    ],
    [[], 32, undefined, /grid must be a number or 1 to 3 dimensions, e\.g\. grid: 256/],
    [1, 32, -1, /sharedMemBytes must be a non-negative integer; got -1/],
    [1, 32, 1 << 20, /sharedMemBytes = 1 MiB exceeds the 48 KiB a block may use/],
  ];
  for (const [grid, block, shared, re] of cases) {
    assert.throws(
      () => normalizeLaunch(grid as number, block as number, shared),
      usage(re),
      `normalizeLaunch(${JSON.stringify(grid)}, ${JSON.stringify(block)}, ${shared})`,
    );
  }
});

test('kernel argument count and types: the message names the argument, what it needs and what came', () => {
  for (const [name, dev, fake] of devices()) {
    fake.defineKernel('k2', ['pointer', 'u32', 'f32'], () => {});
    const k = dev.compile('', { kernels: { k2: ['pointer', 'u32', 'f32'] } }).getKernel('k2');
    const s = dev.createStream();
    const b = dev.allocDevice(16, 'b');
    const l = { grid: 1, block: 1 };
    // @ts-expect-error -- one argument short: a type error, and a UsageError at run time
    assert.throws(() => k.launch(s, l, b, 1), usage(/takes 3 arguments \(pointer, u32, f32\), got 2/), name);
    assert.throws(
      () => k.launch(s, l, b, -1, 1),
      usage(/argument 1 is u32 and needs an integer in 0\.\.2\^32-1, got -1/),
      name,
    );
    assert.throws(
      // @ts-expect-error -- a number where the signature says pointer
      () => k.launch(s, l, 5, 1, 1),
      usage(/argument 0 is pointer and needs a DeviceBuffer or a bigint address/),
      name,
    );
    assert.throws(
      () => k.launch(s, l, b, 1, 'x' as unknown as number),
      usage(/argument 2 is f32 and needs a number/),
      name,
    );
  }
  // The real packer (koffi memory, no GPU needed).
  const args = new KernelArgs('scale', ['pointer', 'u32', 'f32', 'i64']);
  try {
    const buf = { kind: 'device', ptr: 0x1000n, closed: false, label: 'out', byteLength: 64 } as unknown as KernelArg;
    assert.throws(
      () => args.pack([buf, 1, 1]),
      usage(/kernel 'scale' takes 4 arguments \(pointer, u32, f32, i64\); got 3/),
    );
    assert.throws(
      () => args.pack([buf, 1.5, 1, 1n]),
      usage(/argument 1 \(u32\) of kernel 'scale': expected an integer in 0\.\.4294967295; got number 1\.5/),
    );
    assert.throws(
      () => args.pack([buf, 1, 1, 2 ** 60]),
      usage(/argument 3 \(i64\) of kernel 'scale': expected a bigint or a safe integer/),
    );
    assert.throws(
      () => args.pack([{ kind: 'pinned', label: 'p' } as unknown as KernelArg, 1, 1, 1n]),
      usage(/got a PinnedBuffer; kernels take device memory: copy it to a DeviceBuffer first/),
    );
    assert.throws(
      () => args.pack([{ ...(buf as object), closed: true } as unknown as KernelArg, 1, 1, 1n]),
      usage(/DeviceBuffer 'out' was closed; allocate a new one with device\.allocDevice\(\)/),
    );
    args.pack([buf, 1, 1, 1n]);
  } finally {
    args.free();
  }
  assert.throws(
    () => new KernelArgs('k', ['u16' as never]),
    usage(/argument 0 has type 'u16'; use one of pointer, u32, i32, u64, i64, f32, f64/),
  );
});

test('a pageable Uint8Array where pinned memory is required: the error says to use allocPinned', () => {
  for (const [name, dev] of devices()) {
    const s = dev.createStream();
    const b = dev.allocDevice(16, 'b');
    const pageable = new Uint8Array(16) as unknown as PinnedBuffer;
    assert.throws(() => dev.copy(s, pageable, b), usage(/pinned|allocPinned/), name);
    assert.throws(() => dev.copy(s, b, pageable), usage(/pinned|allocPinned/), name);
    assert.throws(() => dev.hostAccess(pageable, 'read', 'sink'), usage(/not pinned memory/), name);
  }
});

test('copy sizes and offsets past the end say which buffer and what to pass', () => {
  for (const [name, dev] of devices()) {
    const s = dev.createStream();
    const small = dev.allocPinned(8, 'small');
    const big = dev.allocDevice(64, 'big');
    assert.throws(
      () => dev.copy(s, small, big),
      usage(/do not fit the destination 'small'.*pass \{ bytes \} or a larger buffer/),
      name,
    );
    assert.throws(() => dev.copy(s, small, big, { bytes: 8, srcOffset: 60 }), usage(/run past the source 'big'/), name);
    assert.throws(() => dev.copy(s, small, big, { bytes: -1 }), usage(/non-negative integers/), name);
    assert.throws(() => dev.copy(s, small, big, { bytes: 1.5 }), usage(/non-negative integers/), name);
  }
});

test('use of a closed resource: a UsageError naming the resource and what to do', () => {
  for (const [name, dev] of devices()) {
    const s = dev.createStream({ label: 'copy' });
    const e = dev.createEvent({ label: 'done' });
    const b: DeviceBuffer = dev.allocDevice(16, 'out');
    const p: PinnedBuffer = dev.allocPinned(16, 'pin');
    const prog = dev.compile('');
    for (const r of [s, e, b, p, prog]) r.close();
    const s2 = dev.createStream({ label: 'other' });
    assert.throws(
      () => dev.copy(s, p, b),
      usage(/(stream 'copy'|pinned buffer 'pin'|'out').*(after close|closed)/),
      name,
    );
    assert.throws(() => e.record(s2), usage(/event 'done' used after close\(\).*make a new one/), name);
    assert.throws(() => s.waitEvent(dev.createEvent()), usage(/stream 'copy' used after close\(\)/), name);
    assert.throws(() => p.bytes, usage(/pinned buffer 'pin' read after close\(\); its memory is freed/), name);
    assert.throws(() => prog.getKernel('k'), usage(/used after close\(\)/), name);
    dev.close();
    dev.close();
    assert.throws(() => dev.createStream(), usage(/used after close\(\)/), name);
  }
});
