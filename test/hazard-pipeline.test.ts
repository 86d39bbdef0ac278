// tandem's own pipeline under the hazard checker: every mode × depth 1–6 × uploads on/off, rings
// with fewer device slots than pinned slots, push and pull style, fast and slow sinks, on the
// fake device. Not one hazard, every chunk intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checked } from '../src/check/index.js';
import { createPipeline, type PipelineMode } from '../src/pipeline/index.js';
import { FakeDevice } from '../src/testing/index.js';
import { mulberry32 as prng } from '../src/util/prng.js';

const OUT = 256;
const IN = 128;
const CHUNKS = 23;

function device(seed: number): FakeDevice {
  const rnd = prng(seed);
  // Copies of random length, so the order in which the engines finish changes from chunk to chunk.
  const fake = new FakeDevice({ copyCostMs: () => 0.05 + rnd() * 0.5 });
  fake.defineKernel(
    'produce',
    ['pointer', 'u32'],
    (_c, out, n) => (out as Uint8Array).fill((Number(n) * 7 + 1) & 255),
    () => 0.05 + rnd() * 0.5,
  );
  fake.defineKernel(
    'transform',
    ['pointer', 'pointer', 'u32'],
    (_c, out, inp, n) => {
      const o = out as Uint8Array;
      const i = inp as Uint8Array;
      for (let k = 0; k < o.length; k++) o[k] = (i[k % IN]! + Number(n)) & 255;
    },
    () => 0.05 + rnd() * 0.5,
  );
  return fake;
}

function expected(n: number, uploads: boolean): number {
  return uploads ? ((n & 255) + n) & 255 : (n * 7 + 1) & 255;
}

for (const mode of ['overlap', 'serial'] as PipelineMode[]) {
  for (const uploads of [false, true]) {
    test(`no hazard: ${mode}, depths 1–6, uploads ${uploads ? 'on' : 'off'}`, { timeout: 60_000 }, async () => {
      for (let depth = 1; depth <= 6; depth++) {
        const fake = device(depth * 31 + (uploads ? 7 : 0));
        const dev = checked(fake);
        const base = fake.liveResources();
        const rnd = prng(depth);
        const prog = dev.compile('', {
          kernels: { produce: ['pointer', 'u32'], transform: ['pointer', 'pointer', 'u32'] },
        });
        const produce = prog.getKernel('produce');
        const transform = prog.getKernel('transform');
        const bad: number[] = [];
        const seen: number[] = [];
        const pipeline = createPipeline<number>(dev, {
          outputBytes: OUT,
          inputBytes: uploads ? IN : undefined,
          depth,
          mode,
          sinkConcurrency: depth > 2 ? 2 : 1,
          trace: depth % 2 === 0,
          compute: (c) => {
            if (uploads)
              transform.launch(
                c.stream,
                { grid: 1, block: 32, reads: [c.input!], writes: [c.output] },
                c.output,
                c.input!,
                c.index,
              );
            else produce.launch(c.stream, { grid: 1, block: 32, writes: [c.output] }, c.output, c.index);
          },
          sink: async (c) => {
            seen.push(c.index);
            if (!c.data.every((b) => b === expected(c.index, uploads))) bad.push(c.index);
            // Sometimes slow, so the ring fills and the barriers are exercised both ways.
            if (rnd() < 0.3) await new Promise((r) => setTimeout(r, rnd() * 2));
          },
        });
        const inputs = uploads
          ? Array.from(
              { length: CHUNKS },
              (_, n) => ((staging: Uint8Array) => void staging.fill(n & 255)) as unknown as number,
            )
          : CHUNKS;
        await pipeline.run(inputs as never);
        pipeline.close();
        assert.deepEqual(
          dev.hazards.map((h) => h.message),
          [],
          `${mode} depth ${depth}`,
        );
        assert.deepEqual(bad, [], `${mode} depth ${depth}: chunks intact`);
        assert.deepEqual(
          [...seen].sort((a, b) => a - b),
          Array.from({ length: CHUNKS }, (_, k) => k),
        );
        dev.pool.trim();
        assert.deepEqual(fake.liveResources(), base, `${mode} depth ${depth}: resources released`);
      }
    });
  }
}

for (const uploads of [false, true]) {
  test(
    `no hazard with fewer device slots than pinned slots, uploads ${uploads ? 'on' : 'off'}`,
    { timeout: 60_000 },
    async () => {
      for (const [depth, deviceSlots] of [
        [2, 1],
        [3, 1],
        [4, 2],
        [6, 2],
        [6, 5],
        [9, 3],
      ] as const) {
        const what = `depth ${depth}, ${deviceSlots} device slots`;
        const fake = device(depth * 13 + deviceSlots + (uploads ? 5 : 0));
        const dev = checked(fake);
        const base = fake.liveResources();
        const rnd = prng(depth + deviceSlots);
        const prog = dev.compile('', {
          kernels: { produce: ['pointer', 'u32'], transform: ['pointer', 'pointer', 'u32'] },
        });
        const bad: number[] = [];
        const pipeline = createPipeline<number>(dev, {
          outputBytes: OUT,
          inputBytes: uploads ? IN : undefined,
          depth,
          deviceSlots,
          sinkConcurrency: 2,
          compute: (c) => {
            if (uploads)
              prog
                .getKernel('transform')
                .launch(
                  c.stream,
                  { grid: 1, block: 32, reads: [c.input!], writes: [c.output] },
                  c.output,
                  c.input!,
                  c.index,
                );
            else
              prog.getKernel('produce').launch(c.stream, { grid: 1, block: 32, writes: [c.output] }, c.output, c.index);
          },
          sink: async (c) => {
            if (!c.data.every((b) => b === expected(c.index, uploads))) bad.push(c.index);
            if (rnd() < 0.3) await new Promise((r) => setTimeout(r, rnd() * 2));
          },
        });
        const inputs = uploads
          ? Array.from(
              { length: CHUNKS },
              (_, n) => ((staging: Uint8Array) => void staging.fill(n & 255)) as unknown as number,
            )
          : CHUNKS;
        const stats = await pipeline.run(inputs as never);
        pipeline.close();
        assert.equal(stats.deviceSlots, deviceSlots);
        assert.deepEqual(
          dev.hazards.map((h) => h.message),
          [],
          what,
        );
        assert.deepEqual(bad, [], `${what}: chunks intact`);
        dev.pool.trim();
        assert.deepEqual(fake.liveResources(), base, `${what}: resources released`);
      }
    },
  );
}

test(
  'no hazard in pull style (chunks()) with a consumer that holds chunks for a while',
  { timeout: 60_000 },
  async () => {
    for (const depth of [1, 2, 3, 5]) {
      const fake = device(depth);
      const dev = checked(fake);
      const produce = dev.compile('', { kernels: { produce: ['pointer', 'u32'] } }).getKernel('produce');
      const pipeline = createPipeline(dev, {
        outputBytes: OUT,
        depth,
        compute: (c) => produce.launch(c.stream, { grid: 1, block: 32, writes: [c.output] }, c.output, c.index),
      });
      let n = 0;
      for await (const c of pipeline.chunks(17)) {
        assert.equal(c.index, n++);
        assert.ok(c.data.every((b) => b === expected(c.index, false)));
        await new Promise((r) => setImmediate(r));
        c.release();
      }
      pipeline.close();
      assert.equal(n, 17);
      assert.deepEqual(dev.hazards, [], `pull, depth ${depth}`);
    }
  },
);

test("depth 'auto' under the checker, switching to fewer slots mid-run: no hazard", { timeout: 60_000 }, async () => {
  const fake = device(99);
  const dev = checked(fake);
  // 16 slots of each kind ready in the pool: 'auto' starts with them all.
  dev.reserve({ pinnedBytes: 16 * OUT, deviceBytes: 16 * OUT, bufferBytes: OUT });
  const produce = dev.compile('', { kernels: { produce: ['pointer', 'u32'] } }).getKernel('produce');
  const pipeline = createPipeline(dev, {
    outputBytes: OUT,
    depth: 'auto',
    compute: (c) => produce.launch(c.stream, { grid: 1, block: 32, writes: [c.output] }, c.output, c.index),
    sink: (c) => assert.ok(c.data.every((b) => b === expected(c.index, false))),
  });
  const stats = await pipeline.run(100);
  pipeline.close();
  assert.equal(stats.chunks, 100);
  // Sub-millisecond stages: 'auto' switches from the 16 slots it starts with to fewer mid-run,
  // and no barrier breaks across the switch.
  // Fewer device slots than host slots too: compute(n) waits on the copy of its device slot's
  // previous user, which sits in another host slot.
  assert.ok(stats.depth < 16, stats.depthReason);
  assert.ok(stats.deviceSlots < stats.depth, stats.depthReason);
  assert.match(
    stats.depthReason!,
    new RegExp(`uses ${stats.depth} of the 16 host slots and ${stats.deviceSlots} of the 16 device slots`),
  );
  assert.deepEqual(dev.hazards, []);
});
