// Every error tandem throws on purpose is a TandemError with a stable string code; cancellation
// is one AbortError class whose name matches the DOMException an AbortSignal gives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HazardError } from '../src/check/errors.js';
import { CudaError, LibraryNotFoundError, NvrtcError } from '../src/cuda/errors.js';
import { PipelineError } from '../src/pipeline/errors.js';
import { MultiPipelineError } from '../src/pipeline/multi-errors.js';
import { FfmpegNotFoundError } from '../src/sinks/ffmpeg.js';
import { SinkError } from '../src/sinks/errors.js';
import { AbortError, TandemError, UsageError, abortReason } from '../src/util/errors.js';

const op = { kind: 'kernel', access: 'write', where: 'compute', chunk: 0, name: 'k' } as const;

test('each error class has its code and its own name, and is a TandemError', () => {
  const cuda = new CudaError(700, 'CUDA_ERROR_ILLEGAL_ADDRESS', 'cuStreamSynchronize', 'an illegal memory access');
  const cases: [TandemError, string, string][] = [
    [new UsageError('x'), 'USAGE', 'UsageError'],
    [new AbortError(), 'ABORT', 'AbortError'],
    [cuda, 'CUDA_ERROR_ILLEGAL_ADDRESS', 'CudaError'],
    [
      new NvrtcError(6, 'NVRTC_ERROR_COMPILATION', 'nvrtcCompileProgram', 'log'),
      'NVRTC_ERROR_COMPILATION',
      'NvrtcError',
    ],
    [
      new LibraryNotFoundError('cuda', ['libcuda.so.1'], 'install the driver'),
      'LIBRARY_NOT_FOUND',
      'LibraryNotFoundError',
    ],
    [new PipelineError('copy', 3, cuda), 'STAGE_FAILED', 'PipelineError'],
    [new MultiPipelineError('sink', 4, new Error('x'), 'multi', 1, 0), 'STAGE_FAILED', 'PipelineError'],
    [new HazardError('b', 'device', 'read-after-write', op, op, 1, 'wait'), 'HAZARD', 'HazardError'],
    [new SinkError('raw', 2, 'disk full'), 'SINK_FAILED', 'SinkError'],
    [new FfmpegNotFoundError(['/usr/bin']), 'FFMPEG_NOT_FOUND', 'FfmpegNotFoundError'],
  ];
  for (const [e, code, name] of cases) {
    assert.ok(e instanceof TandemError, name);
    assert.ok(e instanceof Error, name);
    assert.equal(e.code, code, name);
    assert.equal(e.name, name);
    assert.ok(e.message.length > 0, name);
  }
});

test("a PipelineError names its cause's CUDA error", () => {
  const cuda = new CudaError(2, 'CUDA_ERROR_OUT_OF_MEMORY', 'cuMemAlloc_v2', 'out of memory');
  assert.equal(new PipelineError('upload', 0, cuda).cudaName, 'CUDA_ERROR_OUT_OF_MEMORY');
  assert.equal(new PipelineError('sink', 0, new Error('x')).cudaName, undefined);
});

test("abortReason gives the signal's reason, or an AbortError when the signal has none", () => {
  const reason = new Error('mine');
  assert.equal(abortReason(AbortSignal.abort(reason), 'stopped'), reason);
  const fake = { reason: undefined } as AbortSignal;
  const e = abortReason(fake, 'stopped');
  assert.ok(e instanceof AbortError);
  assert.equal((e as AbortError).message, 'stopped');
});
