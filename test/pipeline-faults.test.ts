// A fault at each stage (input, upload, compute, copy, sink) at the first, a middle and the last
// chunk: run rejects with a PipelineError naming stage and chunk, everything is released, there
// are no unhandled rejections, and the next run on the same device works.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CudaError } from '../src/cuda/errors.js';
import { createPipeline, PipelineError, type PipelineOptions, type StageName } from '../src/pipeline/index.js';
import { FakeDevice, type FakeFaultOp } from '../src/testing/index.js';
import { assertNoLeaks, inputBytesOf, rig, tick, watchUnhandled } from './pipeline-helpers.js';

const checkUnhandled = watchUnhandled();
const N = 12;
const OUT = 64;
const IN = 16;
const boom = (what: string) => new Error(`injected ${what} fault`);

type Inject = (
  fake: FakeDevice,
  at: number,
) => { options?: Partial<PipelineOptions<Uint8Array>>; inputs?: AsyncIterable<Uint8Array> | Iterable<Uint8Array> };

const cases: Record<Exclude<StageName, 'setup'>, Record<string, Inject>> = {
  input: {
    'iterator throws': (_f, at) => ({
      inputs: (function* () {
        for (let n = 0; n < N; n++) {
          if (n === at) throw boom('input');
          yield inputBytesOf(n, IN);
        }
      })(),
    }),
    'async iterator rejects': (_f, at) => ({
      inputs: (async function* () {
        for (let n = 0; n < N; n++) {
          await tick();
          if (n === at) throw boom('input');
          yield inputBytesOf(n, IN);
        }
      })(),
    }),
  },
  upload: {
    'H2D copy fails': (f, at) => (f.failNext('copyHtoD', undefined, { skip: at }), { options: { inputBytes: IN } }),
    'async fill rejects': (_f, at) => ({
      options: { inputBytes: IN },
      inputs: Array.from(
        { length: N },
        (_, n) =>
          (async (staging: Uint8Array) => {
            await tick();
            if (n === at) throw boom('fill');
            staging.set(inputBytesOf(n, IN));
          }) as unknown as Uint8Array,
      ),
    }),
    'input too large': (_f, at) => ({
      options: { inputBytes: IN },
      inputs: Array.from({ length: N }, (_, n) => inputBytesOf(n, n === at ? IN + 4 : IN)),
    }),
  },
  compute: {
    'callback throws': (_f, at) => ({
      options: {
        compute: (c) => {
          if (c.index === at) throw boom('compute');
        },
      },
    }),
    'launch fails': (f, at) => (f.failNext('launch', undefined, { skip: at }), {}),
  },
  copy: {
    'D2H copy fails': (f, at) => (f.failNext('copyDtoH', undefined, { skip: at }), {}),
  },
  sink: {
    'sink rejects': (_f, at) => ({
      options: {
        sink: async (c) => {
          await tick();
          if (c.index === at) throw boom('sink');
        },
      },
    }),
    'sink throws synchronously': (_f, at) => ({
      options: {
        sink: (c) => {
          if (c.index === at) throw boom('sink');
        },
      },
    }),
    'sink times out': (_f, at) => ({
      options: {
        sinkTimeoutMs: 20,
        sink: (c) => (c.index === at ? new Promise<void>((r) => setTimeout(r, 60)) : undefined),
      },
    }),
  },
};

for (const [stage, kinds] of Object.entries(cases) as [Exclude<StageName, 'setup'>, Record<string, Inject>][]) {
  for (const [kind, inject] of Object.entries(kinds)) {
    for (const [where, at] of [
      ['first', 0],
      ['middle', N >> 1],
      ['last', N - 1],
    ] as const) {
      for (const mode of ['overlap', 'serial'] as const) {
        test(`${stage}: ${kind} at the ${where} chunk (${mode})`, async () => {
          const { fake, compute } = rig(at * 31 + stage.length, OUT);
          const { options = {}, inputs } = inject(fake, at);
          const kernelCompute = compute;
          const delivered: number[] = [];
          const pipe = createPipeline<Uint8Array>(fake, {
            outputBytes: OUT,
            depth: 3,
            mode,
            sink: (c) => void delivered.push(c.index),
            ...options,
            compute: options.compute ? (c) => (options.compute!(c), kernelCompute(c)) : kernelCompute,
          });
          const items = inputs ?? Array.from({ length: N }, (_, n) => inputBytesOf(n, IN));
          const err = await pipe.run(items).then(
            () => assert.fail('the run should have failed'),
            (e: unknown) => e,
          );
          assert.ok(err instanceof PipelineError, `a PipelineError, got ${String(err)}`);
          assert.equal(err.stage, stage);
          assert.equal(err.chunk, at);
          assert.match(err.message, new RegExp(`stage '${stage}' failed at chunk ${at}`));
          assert.ok(err.cause instanceof Error);
          // Chunks before the fault were delivered in order; none after it reached the sink.
          assert.deepEqual(
            delivered,
            delivered.map((_, k) => k),
          );
          assert.ok(delivered.length <= (stage === 'sink' ? at : N));
          if (kind === 'sink times out') await new Promise((r) => setTimeout(r, 80)); // the late sink settles, then its slot is freed
          assertNoLeaks(fake, `${stage} ${kind} ${where}`);
          // The device still works: the same pipeline runs to completion.
          const again = createPipeline(fake, { outputBytes: OUT, depth: 2, mode, compute: kernelCompute });
          assert.equal((await again.run(5)).chunks, 5);
          assertNoLeaks(fake, 'after the second run');
        });
      }
    }
  }
}

test('a kernel fault is sticky: the run rejects with the CUDA error, frees everything, the device stays faulted', async () => {
  const fake = new FakeDevice();
  fake.defineKernel('bad', ['pointer', 'u32'], (_c, _out, n) => {
    if (n === 5) throw new Error('index out of range');
  });
  const k = fake.compile('').getKernel('bad');
  const pipe = createPipeline(fake, {
    outputBytes: 16,
    depth: 2,
    compute: (c) => k.launch(c.stream, { grid: 1, block: 1 }, c.output, c.index),
  });
  const err = await pipe.run(20).then(
    () => assert.fail('should fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof PipelineError);
  assert.ok(err.cause instanceof CudaError);
  assert.equal((err.cause as CudaError).cudaName, 'CUDA_ERROR_ILLEGAL_ADDRESS');
  assert.ok((err.cause as CudaError).sticky);
  assert.match(err.message, /close the device and open it again/);
  // Like a real GPU, the fault surfaces at whatever the host waits on next: chunk 5 or earlier.
  assert.ok(err.chunk <= 5, `blamed chunk ${err.chunk}`);
  assert.equal(fake.liveResources().deviceBuffers, 0);
  assert.equal(fake.liveResources().streams, 0);
  assert.throws(() => fake.createStream(), /CUDA_ERROR_ILLEGAL_ADDRESS/);
});

// Every call a run makes while it sets up, failed in turn: streams, buffers, events, with and
// without uploads and timing events ('auto' depth times its warm-up).
for (const op of ['createStream', 'alloc', 'pinnedAlloc', 'createEvent'] as const) {
  for (const variant of ['depth 3, uploads', 'auto depth, trace', 'serial'] as const) {
    test(`setup: each ${op} call failing in turn (${variant}): PipelineError('setup'), nothing leaks`, async () => {
      const { fake, compute } = rig(3, OUT);
      const options: PipelineOptions<Uint8Array> = {
        outputBytes: OUT,
        compute,
        ...(variant === 'depth 3, uploads' ? { depth: 3, inputBytes: IN } : {}),
        ...(variant === 'auto depth, trace' ? { trace: true } : {}),
        ...(variant === 'serial' ? { mode: 'serial' as const } : {}),
      };
      const inputs = Array.from({ length: 10 }, (_, n) => inputBytesOf(n, IN));
      const pipe = createPipeline(fake, options);
      // How many calls of this kind a run makes before its first chunk: each one fails in turn.
      const made = countCalls(fake, op);
      let setupCalls = -1;
      await createPipeline(fake, {
        ...options,
        compute: (c) => {
          if (setupCalls < 0) setupCalls = made();
          compute(c);
        },
      }).run(inputs);
      assertNoLeaks(fake, 'after counting');
      assert.ok(setupCalls >= 1, `setup makes ${setupCalls} ${op} calls`);
      let degraded = 0;
      for (let skip = 0; skip < setupCalls; skip++) {
        fake.failNext(op, undefined, { skip });
        const outcome = await pipe.run(inputs).then(
          (stats) => ({ stats, err: null }),
          (e: unknown) => ({ stats: null, err: e }),
        );
        if (outcome.stats && variant === 'auto depth, trace') {
          // 'auto' starts where the counting run decided, above double buffering: a slot beyond
          // that which fails to allocate leaves the run with fewer, and the run says so.
          assert.equal(outcome.stats.chunks, 10);
          assert.match(outcome.stats.depthReason!, /allocating the rest failed \(CUDA_ERROR_OUT_OF_MEMORY/);
          assertNoLeaks(fake, `${op} ${skip} ${variant}`);
          degraded++;
          continue;
        }
        const err = outcome.err;
        assert.ok(err instanceof PipelineError, `a PipelineError, got ${String(err)}`);
        assert.equal(err.stage, 'setup');
        assert.equal(err.chunk, 0);
        assert.ok(err.cause instanceof CudaError);
        assert.match(err.message, /setting up the run failed: CUDA_ERROR_OUT_OF_MEMORY.*lower depth/);
        assertNoLeaks(fake, `${op} ${skip} ${variant}`);
      }
      if (degraded)
        process.stderr.write(`# ${op} (${variant}): ${degraded} of ${setupCalls} failures left fewer slots\n`);
      assert.equal((await pipe.run(inputs)).chunks, 10);
      assertNoLeaks(fake, 'after the next run');
    });
  }
}

/** Counts `op` calls on the fake from now on (the fault hook's own view: failNext with a huge skip). */
function countCalls(fake: FakeDevice, op: FakeFaultOp): () => number {
  const method = {
    createStream: 'createStream',
    createEvent: 'createEvent',
    alloc: 'allocDevice',
    pinnedAlloc: 'allocPinned',
  }[op as 'createStream'] as 'createStream';
  const orig = fake[method].bind(fake);
  let n = 0;
  fake[method] = ((...a: Parameters<typeof orig>) => (n++, orig(...a))) as typeof orig;
  return () => {
    fake[method] = orig;
    return n;
  };
}

test('options are validated with messages that say what to change', () => {
  const fake = new FakeDevice();
  const compute = () => {};
  assert.throws(() => createPipeline(fake, { outputBytes: 0, compute }), /outputBytes must be a positive integer/);
  assert.throws(() => createPipeline(fake, { outputBytes: 8, depth: 17, compute }), /depth must be 1..16/);
  assert.throws(
    () => createPipeline(fake, { outputBytes: 8, deviceSlots: 0, compute }),
    /deviceSlots must be 1..16 or 'auto', got 0/,
  );
  assert.throws(
    () => createPipeline(fake, { outputBytes: 8, depth: 3, deviceSlots: 4, compute }),
    /deviceSlots \(4\) cannot exceed depth \(3\).*raise depth or lower deviceSlots/,
  );
  assert.throws(() => createPipeline(fake, { outputBytes: 8, sinkConcurrency: 0, compute }), /sinkConcurrency/);
  assert.throws(() => createPipeline(fake, { outputBytes: 8 } as never), /compute\(chunk\) is required/);
});

test('no unhandled rejections', async () => {
  await new Promise((r) => setTimeout(r, 100));
  checkUnhandled();
});
