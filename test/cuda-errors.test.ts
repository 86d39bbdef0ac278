import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CudaError, NvrtcError, cudaResultName } from '../src/cuda/errors.js';
import { formatBytes } from '../src/util/format.js';
import { UsageError } from '../src/util/errors.js';
import { cudaError, describeResult } from '../src/cuda/driver.js';
import { closedError } from '../src/core/closed.js';
import { checkNvrtc } from '../src/cuda/nvrtc.js';

test('without the driver, codes are named from the static table', () => {
  assert.deepEqual(describeResult(2), { name: 'CUDA_ERROR_OUT_OF_MEMORY', description: 'out of memory' });
  assert.equal(cudaResultName(123456), 'CUDA_ERROR_123456');
});

test('the message starts with the CUDA name, then the call and context, then advice', () => {
  const e = cudaError(
    2,
    'cuMemAlloc_v2',
    `${formatBytes(96 * 1024 ** 3)} asked, ${formatBytes(79.1 * 1024 ** 3)} free`,
  );
  assert.ok(e instanceof CudaError);
  assert.equal(e.result, 2);
  assert.equal(e.code, 'CUDA_ERROR_OUT_OF_MEMORY');
  assert.equal(e.cudaName, 'CUDA_ERROR_OUT_OF_MEMORY');
  assert.equal(e.call, 'cuMemAlloc_v2');
  assert.equal(e.sticky, false);
  assert.equal(
    e.message,
    'CUDA_ERROR_OUT_OF_MEMORY: out of memory (cuMemAlloc_v2, 96 GiB asked, 79.1 GiB free); free device memory or use smaller chunks / a shallower ring',
  );
});

test('sticky faults say the context is lost', () => {
  const e = cudaError(700, 'cuEventQuery');
  assert.equal(e.sticky, true);
  assert.match(
    e.message,
    /^CUDA_ERROR_ILLEGAL_ADDRESS: illegal address \(cuEventQuery\); .*close the device and open it again/,
  );
});

test('NvrtcError carries the compile log', () => {
  assert.throws(
    () => checkNvrtc(6, 'nvrtcCompileProgram', 'k.cu(3): error: identifier "x" is undefined\n', 'k.cu'),
    (e: Error) =>
      e instanceof NvrtcError &&
      e.log.includes('identifier "x" is undefined') &&
      /^NVRTC_ERROR_6 \(nvrtcCompileProgram, k\.cu\):\nk\.cu\(3\): error/.test(e.message),
  );
  assert.doesNotThrow(() => checkNvrtc(0, 'nvrtcCompileProgram'));
});

test('use-after-close errors name the resource and how to get a new one', () => {
  const e = closedError('Stream', 'copy');
  assert.ok(e instanceof UsageError);
  assert.equal(e.message, "Stream 'copy' was closed; create a new one with device.createStream()");
  assert.equal(
    closedError('PinnedBuffer', 'slot0').message,
    "PinnedBuffer 'slot0' was closed; allocate a new one with device.allocPinned()",
  );
});
