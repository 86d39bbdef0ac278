// Fuzzing the API's option parsing with a seeded PRNG: random pipeline options, run inputs and
// launch shapes. Property: a valid run, or a UsageError (bad options), or a PipelineError /
// CudaError out of memory (a run that failed cleanly) — never a TypeError, a RangeError, an
// unhandled rejection or a hang. A failing case prints its seed and options to replay it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { checked } from '../src/check/index.js';
import { CudaError } from '../src/cuda/errors.js';
import { UsageError } from '../src/util/errors.js';
import { normalizeLaunch } from '../src/core/launch-config.js';
import { createPipeline, PipelineError } from '../src/pipeline/index.js';
import { FakeDevice } from '../src/testing/index.js';
import { mulberry32 as prng } from '../src/util/prng.js';
export { prng };

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

// Anything a caller might pass by mistake; sizes stay small or impossibly large so that the fake
// never allocates gigabytes of real memory.
const JUNK: readonly unknown[] = [
  undefined,
  null,
  0,
  -1,
  1.5,
  NaN,
  Infinity,
  -Infinity,
  '',
  '3',
  'auto',
  true,
  {},
  [],
  [2],
  1n,
  () => {},
];
const COUNTS: readonly unknown[] = [1, 2, 4, 7, 0, 3, 5, undefined, -2, 1.5, NaN, 'x', 3n, {}];

function randomOptions(rnd: () => number, kernel: { launch: (...a: never[]) => void }): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  // Some cases are all-valid, the rest mix in a little junk, so both outcomes are well covered.
  const junkRate = rnd() < 0.4 ? 0 : 0.15;
  const maybe = (key: string, valid: readonly unknown[], p = 0.7) => {
    if (rnd() < p) o[key] = rnd() < junkRate ? pick(rnd, JUNK) : pick(rnd, valid);
  };
  maybe('outputBytes', [1, 64, 4096, 4096, 2 ** 40, Number.MAX_SAFE_INTEGER], 0.97);
  maybe('inputBytes', [0, 16, 64, 2 ** 53], 0.3);
  maybe('depth', [1, 2, 3, 6, 16, 17, 'auto', 0]);
  maybe('deviceSlots', [1, 2, 3, 16, 'auto', 0, 17], 0.3);
  maybe('mode', ['overlap', 'serial', 'OVERLAP'], 0.5);
  maybe('sinkConcurrency', [1, 2, 4], 0.4);
  maybe('sinkTimeoutMs', [1000, 1e-9, -5], 0.3);
  maybe('trace', [true, false], 0.3);
  maybe('label', ['fuzz', ''], 0.3);
  maybe('priorities', [{}, { compute: -1 }, { copy: 1, upload: 0 }], 0.2);
  const computes = [
    (c: { stream: unknown; output: unknown; index: number }) =>
      (kernel.launch as (...a: unknown[]) => void)(c.stream, { grid: 1, block: 1 }, c.output, c.index),
    (c: { stream: unknown; output: unknown; index: number }) =>
      (kernel.launch as (...a: unknown[]) => void)(c.stream, { grid: 1, block: 1 }, c.output, c.index),
    () => {
      throw new Error('compute callback bug');
    },
    async () => {},
  ];
  if (rnd() < 0.97) o.compute = rnd() < junkRate ? pick(rnd, JUNK) : pick(rnd, computes);
  const sinks = [undefined, () => {}, async () => {}, () => Promise.reject(new Error('sink bug'))];
  if (rnd() < 0.6) o.sink = rnd() < junkRate ? pick(rnd, JUNK) : pick(rnd, sinks);
  return o;
}

function acceptable(outcome: unknown): boolean {
  if (outcome === 'ok') return true;
  if (outcome instanceof UsageError) return outcome.message.length > 10;
  if (outcome instanceof PipelineError && outcome.stage === 'setup')
    return outcome.cause instanceof CudaError && outcome.cause.cudaName === 'CUDA_ERROR_OUT_OF_MEMORY';
  if (outcome instanceof PipelineError) return outcome.message.includes('failed at chunk');
  return false;
}

test('fuzz: 400 random pipeline option objects and run inputs never crash or hang', { timeout: 120_000 }, async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  const tally = new Map<string, number>();
  try {
    for (let seed = 1; seed <= 400; seed++) {
      const rnd = prng(seed);
      const fake = new FakeDevice();
      fake.defineKernel('k', ['pointer', 'u32'], (_c, out, n) => void ((out as Uint8Array)[0] = Number(n) & 255), 0.01);
      const dev = rnd() < 0.5 ? checked(fake) : fake;
      const kernel = dev.compile('', { kernels: { k: ['pointer', 'u32'] } }).getKernel('k');
      const options = randomOptions(rnd, kernel as never);
      const count = pick(rnd, COUNTS);
      const base = fake.liveResources();
      let outcome: unknown;
      try {
        const p = createPipeline(dev, options as never);
        const timer = new Promise((_, reject) =>
          setTimeout(() => reject(new Error('HANG: the run did not settle in 10 s')), 10_000).unref(),
        );
        outcome = await Promise.race([p.run(count as never).then(() => 'ok'), timer]);
        p.close();
      } catch (e) {
        outcome = e;
      }
      const kind = outcome === 'ok' ? 'ok' : ((outcome as Error)?.name ?? typeof outcome);
      tally.set(kind, (tally.get(kind) ?? 0) + 1);
      assert.ok(
        acceptable(outcome),
        `seed ${seed}: ${inspect(options)} run(${inspect(count)}) → ${(outcome as Error)?.stack ?? inspect(outcome)}`,
      );
      dev.pool.trim();
      if (!fake.clock.fault)
        assert.deepEqual(fake.liveResources(), base, `seed ${seed}: resources released (${inspect(options)})`);
    }
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  console.error(`  outcomes: ${[...tally].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  assert.deepEqual(unhandled, [], 'no unhandled rejection');
  assert.ok((tally.get('ok') ?? 0) > 20, 'the generator also makes valid runs');
  assert.ok((tally.get('UsageError') ?? 0) > 20, 'and invalid options');
});

test('fuzz: 5,000 random launch shapes give a normalised launch or a UsageError, never anything else', () => {
  const rnd = prng(7);
  const dims: readonly unknown[] = [
    ...JUNK,
    1,
    32,
    256,
    1024,
    1025,
    65535,
    65536,
    2 ** 31 - 1,
    2 ** 31,
    [1, 1],
    [32, 32],
    [1, 1, 64],
    [1, 1, 65],
    [0, 1],
    [1, -1, 1],
    [1, 1, 1, 1],
    ['1'],
  ];
  let ok = 0;
  for (let i = 0; i < 5000; i++) {
    const grid = pick(rnd, dims);
    const block = pick(rnd, dims);
    const shared = pick(rnd, [undefined, 0, 1024, 48 * 1024, 48 * 1024 + 1, -1, 1.5, NaN, '0']);
    try {
      const n = normalizeLaunch(grid as never, block as never, shared as never);
      assert.ok(
        n.grid.every((v) => Number.isInteger(v) && v >= 1) && n.block.every((v) => Number.isInteger(v) && v >= 1),
      );
      assert.ok(n.block[0] * n.block[1] * n.block[2] <= 1024);
      ok++;
    } catch (e) {
      assert.ok(
        e instanceof UsageError,
        `grid ${inspect(grid)} block ${inspect(block)} shared ${inspect(shared)} → ${(e as Error).stack}`,
      );
      assert.match(e.message, /must|exceeds|allows/);
    }
  }
  assert.ok(ok > 100, `some shapes are valid (${ok})`);
});
