// A failure on one device stops the run on all of them: the run rejects with a PipelineError
// naming the stage, the GLOBAL chunk and the device; every device's streams, events and buffers
// are released; chunks before the fault were delivered in order; there are no unhandled
// rejections; and the next run on the same devices works. Also: abort and close() mid-run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CudaError } from '../src/cuda/errors.js';
import { PipelineError } from '../src/pipeline/index.js';
import { MultiPipelineError } from '../src/pipeline/multi-errors.js';
import { createMultiPipeline, type MultiComputeChunk, type MultiOutputChunk } from '../src/pipeline/multi.js';
import type { FakeDevice } from '../src/testing/index.js';
import { syntheticReference } from '../src/workloads/synthetic.js';
import { assertNoLeaks, rig, tick, watchUnhandled, type Rig } from './pipeline-helpers.js';

const checkUnhandled = watchUnhandled();
const OUT = 64;
const N = 90;
const DEVICES = 3;

interface Harness {
  rigs: Rig[];
  devices: FakeDevice[];
  /** Global indices each device computed, in its own order. */
  onDevice: number[][];
  delivered: number[];
  compute(c: MultiComputeChunk<unknown>): Promise<void>;
  sink(c: MultiOutputChunk<unknown>): void;
}

function harness(seed: number): Harness {
  const rigs = Array.from({ length: DEVICES }, (_, d) => rig(seed * 10 + d, OUT, 1, { ordinal: d + 4 }));
  const onDevice: number[][] = rigs.map(() => []);
  const delivered: number[] = [];
  return {
    rigs,
    devices: rigs.map((r) => r.fake),
    onDevice,
    delivered,
    async compute(c) {
      for (let k = 0; k <= c.deviceIndex; k++) await tick(); // unequal speeds, so the dealing is uneven
      onDevice[c.deviceIndex]!.push(c.index);
      rigs[c.deviceIndex]!.compute(c);
    },
    sink(c) {
      assert.ok(
        Buffer.from(c.data).equals(Buffer.from(syntheticReference(OUT, c.index, 1))),
        `bytes of chunk ${c.index}`,
      );
      delivered.push(c.index);
    },
  };
}

async function expectFailure(run: Promise<unknown>): Promise<MultiPipelineError> {
  const err = await run.then(
    () => assert.fail('the run should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof PipelineError, `a PipelineError, got ${String(err)}`);
  assert.ok(err instanceof MultiPipelineError, 'one that names the device');
  return err;
}

async function afterwards(h: Harness, skipDevice = -1): Promise<void> {
  assert.deepEqual(
    h.delivered,
    h.delivered.map((_, k) => k),
    'chunks before the fault arrived in order',
  );
  h.rigs.forEach((r, d) => d !== skipDevice && assertNoLeaks(r.fake, `device ${d}`));
  const devices = h.devices.filter((_, d) => d !== skipDevice);
  const rigs = h.rigs.filter((_, d) => d !== skipDevice);
  const order: number[] = [];
  const stats = await createMultiPipeline(devices, {
    outputBytes: OUT,
    depth: 2,
    compute: (c) => rigs[c.deviceIndex]!.compute(c),
    sink: (c) => void order.push(c.index),
  }).run(40);
  assert.equal(stats.chunks, 40);
  assert.deepEqual(
    order,
    Array.from({ length: 40 }, (_, k) => k),
  );
  rigs.forEach((r, d) => assertNoLeaks(r.fake, `device ${d} after the next run`));
}

for (let d = 0; d < DEVICES; d++) {
  for (const k of [0, 4]) {
    const where = `device ${d}'s chunk #${k}`;

    test(`compute throws on ${where}`, async () => {
      const h = harness(d * 7 + k + 1);
      let at = -1;
      const pipe = createMultiPipeline(h.devices, {
        outputBytes: OUT,
        depth: 2,
        compute: async (c) => {
          if (c.deviceIndex === d && h.onDevice[d]!.length === k) {
            at = c.index;
            throw new Error('injected compute fault');
          }
          await h.compute(c);
        },
        sink: h.sink,
      });
      const err = await expectFailure(pipe.run(N));
      assert.equal(err.stage, 'compute');
      assert.equal(err.chunk, at);
      assert.equal(err.device, d + 4);
      assert.equal(err.deviceIndex, d);
      assert.match(
        err.message,
        new RegExp(`on device ${d + 4} .*stage 'compute' failed at chunk ${at}: injected compute fault`),
      );
      assert.ok(!h.delivered.includes(at));
      await afterwards(h);
    });

    test(`a launch fails on ${where}`, async () => {
      const h = harness(d * 7 + k + 2);
      h.devices[d]!.failNext('launch', undefined, { skip: k });
      const err = await expectFailure(
        createMultiPipeline(h.devices, { outputBytes: OUT, depth: 3, compute: h.compute, sink: h.sink }).run(N),
      );
      assert.equal(err.stage, 'compute');
      assert.equal(err.chunk, h.onDevice[d]![k]);
      assert.equal(err.device, d + 4);
      assert.ok(err.cause instanceof CudaError);
      await afterwards(h);
    });

    test(`the D2H copy fails on ${where}`, async () => {
      const h = harness(d * 7 + k + 3);
      h.devices[d]!.failNext('copyDtoH', undefined, { skip: k });
      const err = await expectFailure(
        createMultiPipeline(h.devices, { outputBytes: OUT, depth: 2, compute: h.compute, sink: h.sink }).run(N),
      );
      assert.equal(err.stage, 'copy');
      assert.equal(err.chunk, h.onDevice[d]![k]);
      assert.equal(err.device, d + 4);
      assert.ok(!h.delivered.includes(err.chunk));
      await afterwards(h);
    });

    test(`the sink rejects ${where}`, async () => {
      const h = harness(d * 7 + k + 4);
      const seen = new Array<number>(DEVICES).fill(0);
      let at = -1;
      const err = await expectFailure(
        createMultiPipeline(h.devices, {
          outputBytes: OUT,
          depth: 2,
          sinkConcurrency: 2,
          compute: h.compute,
          sink: async (c) => {
            await tick();
            if (c.deviceIndex === d && seen[d]++ === k) {
              at = c.index;
              throw new Error('injected sink fault');
            }
            h.sink(c);
          },
        }).run(N),
      );
      assert.equal(err.stage, 'sink');
      assert.equal(err.chunk, at);
      assert.equal(err.device, d + 4);
      assert.ok(
        h.delivered.every((g) => g < at + 2),
        'nothing after the fault but the one sink call running beside it',
      );
      h.delivered.splice(0, h.delivered.length, ...h.delivered.filter((g) => g < at));
      await afterwards(h);
    });

    test(`a kernel faults (sticky) on ${where}: the others are released and still work`, async () => {
      const h = harness(d * 7 + k + 5);
      const err = await expectFailure(
        createMultiPipeline(h.devices, {
          outputBytes: OUT,
          depth: 2,
          compute: async (c) => {
            if (c.deviceIndex === d && h.onDevice[d]!.length === k) h.devices[d]!.injectStickyFault();
            await h.compute(c);
          },
          sink: h.sink,
        }).run(N),
      );
      assert.equal(err.device, d + 4);
      assert.ok(err.cause instanceof CudaError && err.cause.sticky);
      assert.match(err.message, /close the device and open it again/);
      const live = h.devices[d]!.liveResources();
      assert.equal(
        live.streams + live.deviceBuffers + live.pinnedBuffers + live.events,
        0,
        'the faulted device freed its ring too',
      );
      await afterwards(h, d);
    });
  }
}

for (const at of [0, 1, 45, N - 1]) {
  test(`the input iterable throws at chunk ${at}`, async () => {
    const h = harness(at + 100);
    function* inputs() {
      for (let g = 0; g < N; g++) {
        if (g === at) throw new Error('injected input fault');
        yield g;
      }
    }
    const err = await expectFailure(
      createMultiPipeline<number>(h.devices, { outputBytes: OUT, depth: 2, compute: h.compute, sink: h.sink }).run(
        inputs(),
      ),
    );
    assert.equal(err.stage, 'input');
    assert.equal(err.chunk, at);
    assert.ok([4, 5, 6].includes(err.device));
    assert.ok(h.delivered.length <= at);
    await afterwards(h);
  });
}

test('two sinks in flight fail out of order: the error names the earlier global chunk', async () => {
  const h = harness(97);
  const err = await expectFailure(
    createMultiPipeline(h.devices, {
      outputBytes: OUT,
      depth: 2,
      sinkConcurrency: 2,
      compute: h.compute,
      sink: async (c) => {
        // Chunk 7 fails at once, chunk 6 (started first, still writing) 30 ms later.
        if (c.index === 6) {
          await new Promise((r) => setTimeout(r, 30));
          throw new Error('disk full at 6');
        }
        if (c.index === 7) throw new Error('disk full at 7');
        h.sink(c);
      },
    }).run(N),
  );
  assert.equal(err.stage, 'sink');
  assert.equal(err.chunk, 6);
  assert.match(err.message, /failed at chunk 6: disk full at 6/);
  await afterwards(h);
});

test('the async input rejects: stage input, and the iterator is closed', async () => {
  const h = harness(200);
  let closed = false;
  async function* inputs() {
    try {
      for (let g = 0; ; g++) {
        await tick();
        if (g === 30) throw new Error('injected async input fault');
        yield g;
      }
    } finally {
      closed = true;
    }
  }
  const err = await expectFailure(
    createMultiPipeline<number>(h.devices, { outputBytes: OUT, depth: 2, compute: h.compute, sink: h.sink }).run(
      inputs(),
    ),
  );
  assert.equal(err.stage, 'input');
  assert.equal(err.chunk, 30);
  assert.ok(closed);
  await afterwards(h);
});

test('a sink that never settles in time: stage sink, the run rejects without waiting for it', async () => {
  const h = harness(300);
  let lateSettled = false;
  const err = await expectFailure(
    createMultiPipeline(h.devices, {
      outputBytes: OUT,
      depth: 2,
      sinkTimeoutMs: 20,
      compute: h.compute,
      sink: (c) =>
        c.index === 10 ? new Promise<void>((r) => setTimeout(() => ((lateSettled = true), r()), 80)) : h.sink(c),
    }).run(N),
  );
  assert.equal(lateSettled, false, 'the run rejected before the late sink settled');
  assert.equal(err.stage, 'sink');
  assert.equal(err.chunk, 10);
  assert.match(err.message, /sinkTimeoutMs/);
  await new Promise((r) => setTimeout(r, 120)); // the late sink settles; its device frees its ring then
  await afterwards(h);
});

test('abort mid-run: rejects with the signal reason, all devices released, the next run works', async () => {
  const h = harness(400);
  const ctl = new AbortController();
  const reason = new Error('user stop');
  const pipe = createMultiPipeline(h.devices, {
    outputBytes: OUT,
    depth: 3,
    compute: h.compute,
    sink: (c) => {
      h.sink(c);
      if (c.index === 20) ctl.abort(reason);
    },
  });
  await assert.rejects(pipe.run(N, { signal: ctl.signal }), (e) => e === reason);
  assert.ok(h.delivered.length === 21);
  await afterwards(h);
  // An already-aborted signal rejects at once and allocates nothing.
  await assert.rejects(pipe.run(N, { signal: ctl.signal }), (e) => e === reason);
  h.rigs.forEach((r) => assertNoLeaks(r.fake));
});

test('abort while a sink is running: its slot stays valid until it settles', async () => {
  const h = harness(450);
  const ctl = new AbortController();
  let intact = false;
  const pipe = createMultiPipeline(h.devices, {
    outputBytes: OUT,
    depth: 2,
    compute: h.compute,
    sink: async (c) => {
      if (c.index !== 12) return h.sink(c);
      const before = c.data.slice();
      ctl.abort();
      for (let k = 0; k < 20; k++) await tick();
      intact = !c.pinned.closed && Buffer.from(c.data).equals(Buffer.from(before));
    },
  });
  await assert.rejects(pipe.run(N, { signal: ctl.signal }), (e: Error) => e.name === 'AbortError');
  assert.ok(intact, 'the pinned slot was neither freed nor reused under the running sink');
  await afterwards(h);
});

test('close() mid-run rejects with an AbortError and refuses new runs', async () => {
  const h = harness(500);
  const pipe = createMultiPipeline(h.devices, {
    outputBytes: OUT,
    depth: 2,
    compute: h.compute,
    sink: (c) => {
      h.sink(c);
      if (c.index === 5) pipe.close();
    },
  });
  await assert.rejects(pipe.run(N), (e: Error) => e.name === 'AbortError' && /closed while running/.test(e.message));
  await assert.rejects(pipe.run(N), /after close\(\)/);
  await afterwards(h);
});

for (const op of ['createStream', 'alloc', 'pinnedAlloc', 'createEvent'] as const) {
  test(`device 1's setup fails (${op}): stage setup on device 1, every device released`, async () => {
    const h = harness(500);
    h.devices[1]!.failNext(op);
    const err = await expectFailure(
      createMultiPipeline(h.devices, { outputBytes: OUT, depth: 2, compute: h.compute, sink: h.sink }).run(N),
    );
    assert.equal(err.stage, 'setup');
    assert.equal(err.deviceIndex, 1);
    assert.ok(err.cause instanceof CudaError);
    assert.match(err.message, /setting up the run failed: CUDA_ERROR_OUT_OF_MEMORY/);
    await afterwards(h);
  });
}

test('no unhandled rejections', async () => {
  await new Promise((r) => setTimeout(r, 100));
  checkUnhandled();
});
