import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KernelArgs } from '../src/core/kernel-args.js';
import { UsageError } from '../src/util/errors.js';
import type { DeviceBuffer } from '../src/core/types.js';

// Only what packing reads; the real buffer class needs a GPU.
const fakeBuffer = (ptr: bigint, closed = false) =>
  ({ kind: 'device', ptr, closed, label: 'out', byteLength: 1024 }) as unknown as DeviceBuffer;

test('packs each argument into its own 8-byte slot, little-endian, and points the params array at the slots', () => {
  const args = new KernelArgs('k', ['pointer', 'u32', 'i32', 'u64', 'i64', 'f32', 'f64']);
  try {
    args.pack([fakeBuffer(0x7f00_1234_5678n), 4_000_000_000, -7, 2n ** 63n + 5n, -(2n ** 40n), 1.5, Math.PI]);
    const v = args.view;
    assert.equal(v.getBigUint64(0, true), 0x7f00_1234_5678n);
    assert.equal(v.getUint32(8, true), 4_000_000_000);
    assert.equal(v.getInt32(16, true), -7);
    assert.equal(v.getBigUint64(24, true), 2n ** 63n + 5n);
    assert.equal(v.getBigInt64(32, true), -(2n ** 40n));
    assert.equal(v.getFloat32(40, true), 1.5);
    assert.equal(v.getFloat64(48, true), Math.PI);
    const n = 7;
    const base = args.params! - BigInt(n * 8);
    for (let i = 0; i < n; i++) assert.equal(v.getBigUint64(n * 8 + i * 8, true), base + BigInt(i * 8), `pointer ${i}`);
  } finally {
    args.free();
  }
});

test('reuses the same memory across launches and overwrites values in place', () => {
  const args = new KernelArgs('k', ['u32', 'f32']);
  try {
    args.pack([1, 2]);
    const params = args.params;
    const view = args.view;
    args.pack([3, 4.25]);
    assert.equal(args.params, params);
    assert.equal(args.view, view);
    assert.equal(view.getUint32(0, true), 3);
    assert.equal(view.getFloat32(8, true), 4.25);
  } finally {
    args.free();
  }
});

test('a kernel without parameters passes a null params pointer', () => {
  const args = new KernelArgs('empty', []);
  args.pack([]);
  assert.equal(args.params, null);
  assert.throws(() => args.pack([1]), /kernel 'empty' takes 0 arguments \(none\); got 1/);
});

test('wrong argument count names the kernel and its signature', () => {
  const args = new KernelArgs('saxpy', ['pointer', 'f32', 'u32']);
  try {
    assert.throws(
      () => args.pack([fakeBuffer(1n), 2]),
      (e: Error) =>
        e instanceof UsageError && e.message === "kernel 'saxpy' takes 3 arguments (pointer, f32, u32); got 2",
    );
  } finally {
    args.free();
  }
});

test('type errors name the argument, its type and what was given', () => {
  const args = new KernelArgs('k', ['pointer', 'u32', 'i32', 'u64', 'f32']);
  const ok = [fakeBuffer(1n), 1, 1, 1n, 1] as const;
  const bad = (i: number, value: unknown, re: RegExp) => {
    const a: unknown[] = [...ok];
    a[i] = value;
    assert.throws(
      () => args.pack(a as never),
      (e: Error) => e instanceof UsageError && re.test(e.message),
      `${i}: ${String(value)}`,
    );
  };
  try {
    bad(0, 5, /argument 0 \(pointer\) of kernel 'k': expected a DeviceBuffer or a bigint device address; got number 5/);
    bad(0, fakeBuffer(1n, true), /argument 0 \(pointer\) of kernel 'k': DeviceBuffer 'out' was closed/);
    bad(0, { kind: 'pinned' }, /got a PinnedBuffer; kernels take device memory/);
    bad(1, -1, /argument 1 \(u32\).*0\.\.4294967295; got number -1/);
    bad(1, 1.5, /argument 1 \(u32\)/);
    bad(1, 2 ** 32, /argument 1 \(u32\)/);
    bad(1, 1n, /argument 1 \(u32\).*got bigint 1n/);
    bad(2, 2 ** 31, /argument 2 \(i32\)/);
    bad(3, -1n, /argument 3 \(u64\) of kernel 'k': expected a value in 0\.\.18446744073709551615; got bigint -1n/);
    bad(3, 0.5, /argument 3 \(u64\) of kernel 'k': expected a bigint or a safe integer/);
    bad(4, '1', /argument 4 \(f32\) of kernel 'k': expected a number; got string "1"/);
  } finally {
    args.free();
  }
});

test('unknown signature types are rejected when the kernel is declared', () => {
  assert.throws(
    () => new KernelArgs('k', ['u32', 'float' as never]),
    /kernel 'k': argument 1 has type 'float'; use one of pointer, u32, i32, u64, i64, f32, f64/,
  );
});

test('packing after free() is a clear error, and free() is idempotent', () => {
  const args = new KernelArgs('k', ['u32']);
  args.free();
  args.free();
  assert.throws(() => args.pack([1]), /kernel 'k' belongs to a closed program/);
});
