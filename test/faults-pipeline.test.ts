// The fault matrix on the fake device, with real files where the fault is the file system's:
// each fault rejects the run with a PipelineError naming the stage and the chunk, nothing hangs
// (test timeouts), every stream, event and buffer is released (the fake's memoryInfo and live
// resources back to baseline), and every chunk delivered before the fault is intact and in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checked } from '../src/check/index.js';
import { createPipeline, PipelineError, type OutputChunk, type PipelineOptions } from '../src/pipeline/index.js';
import { openRawSink } from '../src/sinks/index.js';
import { FakeDevice } from '../src/testing/index.js';
import type { Device } from '../src/pipeline/device.js';

const OUT = 512;
const CHUNKS = 12;

/** Chunk n's bytes: (n * 13 + k) & 255 at byte k, so a stale or shifted slot shows. */
const expectedByte = (n: number, k: number) => (n * 13 + k) & 255;

function setup(options: ConstructorParameters<typeof FakeDevice>[0] = {}) {
  const fake = new FakeDevice(options);
  fake.defineKernel(
    'produce',
    ['pointer', 'u32'],
    (_c, out, n) => {
      const o = out as Uint8Array;
      for (let k = 0; k < OUT; k++) o[k] = expectedByte(Number(n), k);
    },
    0.2,
  );
  fake.defineKernel(
    'explode',
    ['pointer', 'u32'],
    (_c, _out, n) => {
      if (Number(n) === 5) throw new Error('index out of bounds in the test kernel');
    },
    0.2,
  );
  // The checker stays on: a fault path that skips a barrier would show up too.
  const dev = checked(fake);
  const base = { live: fake.liveResources(), free: fake.memoryInfo().free };
  const released = () => {
    // What runs handed back to the pool is freed by trim(); what stays open then leaked.
    dev.pool.trim();
    assert.deepEqual(fake.liveResources(), base.live, 'every stream, event and buffer released');
    if (!fake.clock.fault) assert.equal(fake.memoryInfo().free, base.free, 'memoryInfo() back to baseline');
  };
  return { fake, dev, released };
}

function intactPrefix(delivered: Array<{ index: number; bytes: Uint8Array }>): number {
  delivered.forEach((d, i) => {
    assert.equal(d.index, i, 'delivered in order, none skipped');
    for (let k = 0; k < OUT; k++)
      if (d.bytes[k] !== expectedByte(d.index, k)) assert.fail(`chunk ${d.index} corrupted at byte ${k}`);
  });
  return delivered.length;
}

function pipelineOn(
  dev: Device,
  extra: Partial<PipelineOptions<number>> & { kernel?: 'produce' | 'explode' },
  delivered: Array<{ index: number; bytes: Uint8Array }>,
) {
  const k = dev
    .compile('', { kernels: { produce: ['pointer', 'u32'], explode: ['pointer', 'u32'] } })
    .getKernel(extra.kernel ?? 'produce');
  return createPipeline<number>(dev, {
    outputBytes: OUT,
    depth: 3,
    compute: (c) => k.launch(c.stream, { grid: 1, block: 1, writes: [c.output] }, c.output, c.index),
    sink: (c: OutputChunk<number>) => void delivered.push({ index: c.index, bytes: c.data.slice() }),
    ...extra,
  });
}

async function rejectsWith(p: Promise<unknown>, stage: string, chunk: number, re: RegExp): Promise<PipelineError> {
  let caught: unknown = null;
  await p.catch((e: unknown) => (caught = e));
  assert.ok(caught instanceof PipelineError, `a PipelineError, got ${String(caught)}`);
  assert.equal(caught.stage, stage);
  assert.equal(caught.chunk, chunk);
  assert.match(caught.message, new RegExp(`stage '${stage}' failed at chunk ${chunk}`));
  assert.match(caught.message, re);
  return caught;
}

test(
  'sink throws at chunk 4: PipelineError(sink, 4), chunks 0–3 intact, all released',
  { timeout: 20_000 },
  async () => {
    const { dev, released } = setup();
    const delivered: Array<{ index: number; bytes: Uint8Array }> = [];
    const p = pipelineOn(
      dev,
      {
        sink: (c) => {
          if (c.index === 4) throw new Error('disk on fire');
          delivered.push({ index: c.index, bytes: c.data.slice() });
        },
      },
      delivered,
    );
    await rejectsWith(p.run(CHUNKS), 'sink', 4, /disk on fire.*the host stage \(sink\) failed/);
    assert.equal(intactPrefix(delivered), 4);
    p.close();
    released();
  },
);

test(
  'two sinks in flight fail out of order: the error names the earlier chunk, chunks before it intact',
  { timeout: 20_000 },
  async () => {
    const { dev, released } = setup();
    const delivered: Array<{ index: number; bytes: Uint8Array }> = [];
    const p = pipelineOn(
      dev,
      {
        sinkConcurrency: 2,
        sink: async (c) => {
          // Chunk 3 fails at once, chunk 2 (started first, still writing) fails 30 ms later: a full
          // disk does this, and which write comes back first is up to the thread pool.
          if (c.index === 2) {
            await new Promise((r) => setTimeout(r, 30));
            throw new Error('disk full at 2');
          }
          if (c.index === 3) throw new Error('disk full at 3');
          delivered.push({ index: c.index, bytes: c.data.slice() });
        },
      },
      delivered,
    );
    await rejectsWith(p.run(CHUNKS), 'sink', 2, /disk full at 2/);
    assert.equal(intactPrefix(delivered), 2);
    p.close();
    released();
  },
);

test(
  'sink never settles: sinkTimeoutMs rejects with PipelineError(sink, n) instead of hanging',
  { timeout: 20_000 },
  async () => {
    const { dev, released } = setup();
    const delivered: Array<{ index: number; bytes: Uint8Array }> = [];
    const p = pipelineOn(
      dev,
      {
        sinkTimeoutMs: 200,
        sink: (c) => {
          if (c.index === 6) return new Promise<void>(() => {});
          delivered.push({ index: c.index, bytes: c.data.slice() });
        },
      },
      delivered,
    );
    await rejectsWith(p.run(CHUNKS), 'sink', 6, /did not settle within 200 ms \(sinkTimeoutMs\)/);
    assert.equal(intactPrefix(delivered), 6);
    p.close();
    // The hung sink still holds its pinned slot (it may write to it any time); everything else is gone.
    const live = (dev as ReturnType<typeof checked>).inner as FakeDevice;
    dev.pool.trim();
    assert.ok(live.liveResources().pinnedBuffers <= 1);
    assert.equal(live.liveResources().streams, 0);
    assert.equal(live.liveResources().events, 0);
    assert.equal(live.liveResources().deviceBuffers, 0);
    void released;
  },
);

test(
  'input iterator throws at item 7: PipelineError(input, 7), what was delivered intact',
  { timeout: 20_000 },
  async () => {
    const { dev, released } = setup();
    const delivered: Array<{ index: number; bytes: Uint8Array }> = [];
    const p = pipelineOn(dev, {}, delivered);
    function* inputs() {
      for (let n = 0; n < CHUNKS; n++) {
        if (n === 7) throw new Error('the latent file is truncated');
        yield n;
      }
    }
    await rejectsWith(p.run(inputs()), 'input', 7, /the latent file is truncated.*the input iterable threw/);
    // Chunks already in the ring may be abandoned rather than drained; what was delivered is intact.
    assert.ok(intactPrefix(delivered) <= 7);
    p.close();
    released();
  },
);

test('async input iterator rejects: same, from an async generator', { timeout: 20_000 }, async () => {
  const { dev, released } = setup();
  const delivered: Array<{ index: number; bytes: Uint8Array }> = [];
  const p = pipelineOn(dev, {}, delivered);
  async function* inputs() {
    for (let n = 0; n < CHUNKS; n++) {
      await new Promise((r) => setImmediate(r));
      if (n === 3) throw new Error('network dropped');
      yield n;
    }
  }
  await rejectsWith(p.run(inputs()), 'input', 3, /network dropped/);
  assert.ok(intactPrefix(delivered) <= 3);
  p.close();
  released();
});

test(
  'kernel fault (illegal address, sticky): a clear error saying the context is lost, no hang',
  { timeout: 20_000 },
  async () => {
    const { fake, dev } = setup();
    const delivered: Array<{ index: number; bytes: Uint8Array }> = [];
    const p = pipelineOn(
      dev,
      { kernel: 'explode', sink: (c) => void delivered.push({ index: c.index, bytes: c.data.slice() }) },
      delivered,
    );
    let caught: unknown = null;
    await p.run(CHUNKS).catch((e: unknown) => (caught = e));
    assert.ok(caught instanceof PipelineError, String(caught));
    // The fault rejects the wait for the head chunk's D2H: stage 'copy', never the sink's.
    assert.equal(caught.stage, 'copy');
    assert.ok(caught.chunk >= delivered.length && caught.chunk <= 5, `chunk ${caught.chunk}`);
    assert.match(caught.message, /CUDA_ERROR_ILLEGAL_ADDRESS/);
    assert.match(caught.message, /context is lost/);
    assert.ok(delivered.length <= 5);
    p.close();
    assert.ok(fake.clock.fault, 'the fake device stays faulted, like a real context');
    // Every later call says so, too.
    assert.throws(() => dev.createStream(), /CUDA_ERROR_ILLEGAL_ADDRESS/);
  },
);

test(
  'a lost context that surfaces at a later chunk is blamed no later than the chunk that caused it',
  { timeout: 20_000 },
  async () => {
    // Slow kernels, a slow sink and a deep pinned ring over two device slots: the host has
    // enqueued work for chunks past 5 when kernel 5 faults, and the fault comes back from a call
    // made for a chunk after 5. The run cannot know which kernel faulted; it blames the first
    // chunk whose GPU work it has not seen complete, which is never after the faulting one. Where
    // the fault surfaces depends on how far the host got; five runs see several such points.
    for (let trial = 0; trial < 5; trial++) {
      const fake = new FakeDevice({ copyCostMs: () => 0.01 });
      fake.defineKernel(
        'explode',
        ['pointer', 'u32'],
        (_c, _out, n) => {
          if (Number(n) === 5) throw new Error('index out of bounds in the test kernel');
        },
        5,
      );
      const k = fake.compile('').getKernel('explode');
      const delivered: number[] = [];
      const p = createPipeline<number>(fake, {
        outputBytes: OUT,
        depth: 8,
        deviceSlots: 2,
        compute: (c) => k.launch(c.stream, { grid: 1, block: 1 }, c.output, c.index),
        sink: (c) => new Promise<void>((r) => setTimeout(() => (delivered.push(c.index), r()), 15)),
      });
      let caught: unknown = null;
      await p.run(CHUNKS).catch((e: unknown) => (caught = e));
      assert.ok(caught instanceof PipelineError, String(caught));
      assert.equal(caught.stage, 'copy');
      assert.ok(caught.chunk >= delivered.length && caught.chunk <= 5, `trial ${trial}: blamed chunk ${caught.chunk}`);
      assert.match(caught.message, /context is lost/);
      p.close();
    }
  },
);

test(
  'a failed wait for a D2H (cuEventSynchronize error): PipelineError(copy, 0), not the sink',
  { timeout: 20_000 },
  async () => {
    for (const mode of ['overlap', 'serial'] as const) {
      // The first wait the run makes is for a D2H: chunk 0's, unless the host found that one
      // complete already (then a later chunk's; when depends on the host's speed). The failure is
      // that chunk's copy, and only the chunks before it were delivered.
      const { fake, dev, released } = setup({ copyCostMs: () => 3 });
      fake.failNext('completion');
      const delivered: Array<{ index: number; bytes: Uint8Array }> = [];
      const p = pipelineOn(dev, { mode }, delivered);
      const err = await p.run(CHUNKS).then(
        () => assert.fail(`${mode}: the run should have failed`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof PipelineError, `${mode}: a PipelineError, got ${String(err)}`);
      await rejectsWith(Promise.reject(err), 'copy', err.chunk, /CUDA_ERROR_INVALID_HANDLE.*device-to-host copy/);
      assert.ok(err.chunk < CHUNKS, `${mode}: chunk ${err.chunk}`);
      assert.ok(intactPrefix(delivered) <= err.chunk, `${mode}: delivered ${delivered.length}, failed at ${err.chunk}`);
      p.close();
      released();
    }
  },
);

test(
  'launch failure at chunk 2 (injected): PipelineError(compute, 2), chunks 0–1 intact, the device still usable',
  { timeout: 20_000 },
  async () => {
    const { fake, dev, released } = setup();
    const delivered: Array<{ index: number; bytes: Uint8Array }> = [];
    fake.failNext('launch', undefined, { skip: 2 });
    const p = pipelineOn(dev, {}, delivered);
    await rejectsWith(p.run(CHUNKS), 'compute', 2, /CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES/);
    assert.ok(delivered.length <= 2);
    intactPrefix(delivered);
    p.close();
    released();
    // The next run on the same device works.
    const again: Array<{ index: number; bytes: Uint8Array }> = [];
    const q = pipelineOn(dev, { sink: (c) => void again.push({ index: c.index, bytes: c.data.slice() }) }, again);
    await q.run(CHUNKS);
    q.close();
    assert.equal(intactPrefix(again), CHUNKS);
    released();
  },
);

test('D2H copy failure at chunk 5 (injected): PipelineError(copy, 5)', { timeout: 20_000 }, async () => {
  const { fake, dev, released } = setup();
  const delivered: Array<{ index: number; bytes: Uint8Array }> = [];
  fake.failNext('copyDtoH', undefined, { skip: 5 });
  const p = pipelineOn(dev, {}, delivered);
  await rejectsWith(p.run(CHUNKS), 'copy', 5, /CUDA_ERROR_INVALID_VALUE/);
  assert.ok(delivered.length <= 5);
  intactPrefix(delivered);
  p.close();
  released();
});

for (const [what, op, call] of [
  ['device', 'alloc', 'cuMemAlloc_v2'],
  ['pinned', 'pinnedAlloc', 'cuMemHostAlloc'],
] as const) {
  test(
    `out of ${what} memory at allocation: a clear CUDA_ERROR_OUT_OF_MEMORY, nothing left allocated`,
    { timeout: 20_000 },
    async () => {
      const { fake, dev, released } = setup();
      const delivered: Array<{ index: number; bytes: Uint8Array }> = [];
      fake.failNext(op, undefined, { skip: 1 }); // the second slot's allocation fails
      const p = pipelineOn(dev, {}, delivered);
      let caught: unknown = null;
      await p.run(CHUNKS).catch((e: unknown) => (caught = e));
      assert.ok(caught instanceof Error, String(caught));
      assert.match(caught.message, new RegExp(`CUDA_ERROR_OUT_OF_MEMORY.*${call}`));
      assert.match(caught.message, /free device memory or use smaller chunks \/ a shallower ring|smaller|shallower/);
      assert.equal(delivered.length, 0);
      p.close();
      released();
    },
  );
}

test(
  'larger than device memory: the ring does not fit, the error says how much was asked and what is free',
  { timeout: 20_000 },
  async () => {
    const { dev, released } = setup({ totalMemory: 4 * OUT });
    const p = pipelineOn(dev, { depth: 6 }, []);
    let caught: unknown = null;
    await p.run(CHUNKS).catch((e: unknown) => (caught = e));
    assert.ok(caught instanceof Error);
    assert.match(caught.message, /CUDA_ERROR_OUT_OF_MEMORY.*512 B asked, 0 B free/);
    p.close();
    released();
  },
);

test(
  'abort at seeded random points: rejects with the abort reason, a consistent prefix delivered, all released',
  { timeout: 60_000 },
  async () => {
    let seed = 12345;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let trial = 0; trial < 12; trial++) {
      const { dev, released } = setup();
      const delivered: Array<{ index: number; bytes: Uint8Array }> = [];
      const ac = new AbortController();
      const at = Math.floor(rnd() * CHUNKS * 2);
      const how = trial % 3; // from the sink, from a timer, from the input iterator
      const p = pipelineOn(
        dev,
        {
          sink: async (c) => {
            delivered.push({ index: c.index, bytes: c.data.slice() });
            if (how === 0 && c.index === at) ac.abort(new Error(`stop at ${at}`));
            await new Promise((r) => setImmediate(r));
          },
        },
        delivered,
      );
      if (how === 1) setTimeout(() => ac.abort(new Error(`stop at ${at}`)), at / 4);
      function* inputs() {
        for (let n = 0; n < CHUNKS * 2; n++) {
          if (how === 2 && n === at) ac.abort(new Error(`stop at ${at}`));
          yield n;
        }
      }
      const outcome = await p.run(inputs(), { signal: ac.signal }).then(
        () => 'completed',
        (e: unknown) => e,
      );
      if (outcome !== 'completed') {
        assert.ok(outcome instanceof Error);
        assert.equal(outcome.message, `stop at ${at}`, `trial ${trial}: rejects with the signal's reason`);
      }
      intactPrefix(delivered);
      p.close();
      released();
    }
  },
);

test(
  'disk full: a raw sink on /dev/full fails with ENOSPC naming chunk 0 and what to do',
  { timeout: 20_000, skip: process.platform !== 'linux' && 'needs /dev/full' },
  async () => {
    const { dev, released } = setup();
    const sink = await openRawSink({ path: '/dev/full' });
    const p = pipelineOn(dev, { sink: sink.write, sinkConcurrency: sink.concurrency }, []);
    const e = await rejectsWith(p.run(CHUNKS), 'sink', 0, /ENOSPC|disk is full/);
    assert.match(e.message, /free space or write to another disk/);
    await sink.abort(e).catch(() => {});
    p.close();
    released();
  },
);

test('output directory missing: the raw sink refuses before any GPU work, saying to create it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-faults-'));
  try {
    await assert.rejects(openRawSink({ path: join(dir, 'nope', 'out.raw') }), /does not exist.*mkdir -p/);
    await assert.rejects(openRawSink({ path: join(dir, 'nope'), perChunk: true }), /does not exist.*mkdir -p/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('output directory not writable: a clear EACCES error naming the path', async () => {
  // As root, permission bits do not stop writes; sysfs still refuses new files.
  const root = process.getuid?.() === 0;
  const dir = root ? '/sys/kernel' : mkdtempSync(join(tmpdir(), 'tandem-ro-'));
  const { chmodSync } = await import('node:fs');
  if (!root) chmodSync(dir, 0o555);
  try {
    await assert.rejects(
      openRawSink({ path: join(dir, 'out.raw') }),
      /(not writable|no permission to write).*(choose a directory you can write to|fix its permissions)/,
    );
  } finally {
    if (!root) {
      chmodSync(dir, 0o755);
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test(
  'a raw file sink that completes writes exactly the delivered bytes (the baseline the faults compare with)',
  { timeout: 20_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-raw-'));
    try {
      const { dev, released } = setup();
      const sink = await openRawSink({ path: join(dir, 'out.raw') });
      const p = pipelineOn(dev, { sink: sink.write, sinkConcurrency: sink.concurrency }, []);
      await p.run(CHUNKS);
      await sink.close();
      p.close();
      const file = readFileSync(join(dir, 'out.raw'));
      assert.equal(file.length, CHUNKS * OUT);
      for (let n = 0; n < CHUNKS; n++)
        for (let k = 0; k < OUT; k += 37) assert.equal(file[n * OUT + k], expectedByte(n, k));
      released();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
