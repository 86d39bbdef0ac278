// Registers a workload's JS twin kernels on the fake device, so CI runs the same workload code
// without a GPU. Typed structurally: workloads do not import the test double at runtime.
import type { ArgType } from '../core/types.js';
import type { Device } from '../pipeline/device.js';

/**
 * A JS kernel: runs the whole launch, or returns a generator that yields between rows so the
 * fake device can run it in slices between event-loop turns (Ctrl-C stays prompt at 1080p).
 * Pointer arguments arrive as Uint8Array over the buffer.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each kernel declares its own parameter types
export type FakeKernelFn = (ctx: unknown, ...args: any[]) => unknown;

interface FakeKernelRegistry {
  defineKernel(name: string, signature: readonly ArgType[], fn: FakeKernelFn, cost?: unknown): unknown;
}

export interface FakeKernelSpec {
  name: string;
  signature: readonly ArgType[];
  fn: FakeKernelFn;
}

/** Defines the kernels on a fake device; a no-op on a real one. */
export function defineFakeKernels(device: Device, kernels: readonly FakeKernelSpec[]): void {
  if (device.backend !== 'fake') return;
  const fake = device as unknown as FakeKernelRegistry;
  if (typeof fake.defineKernel !== 'function') {
    throw new TypeError('this fake device has no defineKernel(); it cannot run tandem workloads');
  }
  for (const k of kernels) fake.defineKernel(k.name, k.signature, k.fn);
}

/** Runs a sliced JS kernel to its end at once (host-side references of the same bytes). */
export function runToEnd(rows: Iterator<unknown>): void {
  while (!rows.next().done);
}

/** A Float32Array over a buffer's bytes without copying (copies only if misaligned). */
export function f32(bytes: Uint8Array): Float32Array {
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
  throw new RangeError('fake device buffer is not 4-byte aligned');
}
