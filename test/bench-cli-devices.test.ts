// --devices on `tandem bench` and `tandem render`, on fake devices: parsing, one Device per
// distinct ordinal (two pipelines on one device for '0,0'), a sweep over a multi-device pipeline,
// frames identical to a one-device render, and the calibration and table helpers of the sweep.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseBenchOptions, runBench } from '../src/cli/commands/bench.js';
import { planCliRender as planRender } from '../src/cli/commands/render.js';
import { UsageError } from '../src/util/errors.js';
import { calibrateCost } from '../src/profile/calibrate.js';
import { timeAlone } from '../src/profile/alone.js';
import { openDeviceList, parseDeviceList } from '../src/cli/device-list.js';
import { fastest } from '../src/profile/table.js';
import type { Cell } from '../src/profile/results.js';
import { callbackSink } from '../src/sinks/callback.js';
import { FakeDevice } from '../src/testing/index.js';
import { createFrameWorkload } from '../src/workloads/registry.js';
import { runRender } from '../src/render/render.js';
import { syntheticKernel, syntheticLauncher } from '../src/workloads/synthetic.js';
import { FAKE_COPY_BYTES_PER_MS } from '../src/profile/bench-workloads.js';
import { assertNoLeaks } from './pipeline-helpers.js';

test('--devices: all, a count, ordinals with repeats; bad text is a usage error that says what to write', () => {
  assert.equal(parseDeviceList('all'), 'all');
  assert.deepEqual(parseDeviceList('2'), [0, 1]);
  assert.deepEqual(parseDeviceList(3), [0, 1, 2]);
  assert.deepEqual(parseDeviceList('0,0'), [0, 0]);
  assert.deepEqual(parseDeviceList('1,'), [1]);
  assert.deepEqual(parseDeviceList(' 2,0 '), [2, 0]);
  for (const bad of ['0', 'x', '0,,1', '-1', '1.5', '']) {
    assert.throws(
      () => parseDeviceList(bad),
      (e: Error) => e instanceof UsageError && /--devices/.test(e.message),
      bad,
    );
  }
  assert.deepEqual(parseBenchOptions({ devices: '0,0' }).devices, [0, 0]);
  assert.equal(parseBenchOptions({}).devices, null);
});

test('openDeviceList: one fake device per distinct ordinal, shared by repeats, each closed once', async () => {
  const two = await openDeviceList([0, 1], { fake: true });
  assert.equal(two.devices.length, 2);
  assert.notEqual(two.devices[0], two.devices[1]);
  assert.deepEqual(
    two.devices.map((d) => d.ordinal),
    [0, 1],
  );
  await two.close();
  assert.ok(two.devices.every((d) => d.closed));
  const same = await openDeviceList([0, 0], { fake: true });
  assert.equal(same.devices[0], same.devices[1], 'two pipelines, one device');
  assert.equal(same.distinct.length, 1);
  await same.close();
  await same.close(); // idempotent
  await assert.rejects(openDeviceList('all', { fake: true }), /give a count/);
});

test('tandem bench --fake --devices 2: every cell runs on both devices and says so', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-bench-devices-'));
  try {
    const p = parseBenchOptions({
      fake: true,
      devices: '2',
      sizes: '64K',
      chunks: 12,
      ratios: '1',
      depths: '2',
      out: dir,
    });
    const results = await runBench(p, ['bench', '--fake', '--devices', '2']);
    assert.equal(results.cells.length, 2, 'overlap d2 and serial');
    for (const c of results.cells) {
      assert.equal(c.stats.chunks, 12);
      assert.equal(c.params.pipelines, 2);
      const shares = c.params.perDevice as { ordinal: number; chunks: number }[];
      assert.deepEqual(
        shares.map((s) => s.ordinal),
        [0, 1],
      );
      assert.equal(
        shares.reduce((n, s) => n + s.chunks, 0),
        12,
        'every chunk ran exactly once',
      );
      assert.equal(c.traced, null, 'multi-device cells are untraced');
    }
    assert.deepEqual(results.config.devices, [0, 1]);
    assert.ok(results.peers.every((s) => s.status === 'skipped'));
    const onDisk = JSON.parse(await readFile(path.join(dir, 'results.json'), 'utf8'));
    assert.equal(onDisk.cells.length, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(
  'render on two fake devices (and twice on one) writes the same frames as on one device',
  { timeout: 60_000 },
  async () => {
    const format = { width: 64, height: 40, pixelFormat: 'yuv420p' as const, framesPerChunk: 2 };
    const render = async (ordinals: number[] | null) => {
      const opened = ordinals ? await openDeviceList(ordinals, { fake: true }) : null;
      const device = opened ? opened.devices[0]! : new FakeDevice();
      const frames: Buffer[] = [];
      const sink = callbackSink(({ frames: fs }) => void frames.push(...fs.map((f) => Buffer.from(f))), { format });
      const w = createFrameWorkload('fractal', { ...format, cost: 1 });
      try {
        const r = await runRender({ device, devices: opened?.devices, workload: w, sink, frames: 14, depth: 2 });
        assert.equal(r.error, null);
        assert.equal(r.progress.framesDone, 14);
        if (ordinals && ordinals.length > 1) {
          assert.equal(r.multi?.devices, ordinals.length);
          assert.equal(
            r.multi!.perDevice.reduce((n, d) => n + d.chunks, 0),
            7,
          );
        } else {
          assert.equal(r.multi, null);
        }
        return Buffer.concat(frames);
      } finally {
        w.close();
        if (opened) await opened.close();
        else device.close();
      }
    };
    const one = await render(null);
    assert.equal(one.byteLength, 14 * 64 * 40 * 1.5);
    assert.ok((await render([0, 1])).equals(one), 'two devices: same bytes, same order');
    assert.ok((await render([0, 0])).equals(one), 'two pipelines on one device: same bytes, same order');
  },
);

test('tandem render --devices parses into the plan', async () => {
  const plan = await planRender({
    workload: 'fractal',
    size: '64x40',
    frames: 8,
    out: '/tmp/x.raw',
    format: 'yuv420p',
    framesPerChunk: 4,
    depth: 'auto',
    mode: 'overlap',
    device: 0,
    devices: '0,0',
    fps: 30,
    cost: 1,
  });
  assert.deepEqual(plan.devices, [0, 0]);
  await assert.rejects(
    planRender({
      workload: 'fractal',
      size: '64x40',
      frames: 8,
      out: '/tmp/x.raw',
      format: 'yuv420p',
      framesPerChunk: 4,
      depth: 'auto',
      mode: 'overlap',
      device: 0,
      devices: 'two',
      fps: 30,
      cost: 1,
    }),
    UsageError,
  );
});

test('calibrateCost lands the asked kernel time on the fake device, whose cost is affine in iters', async () => {
  const device = new FakeDevice({ copyBytesPerMs: FAKE_COPY_BYTES_PER_MS });
  const bytes = 16 * 1024;
  const { program, kernel } = syntheticKernel(device, { baseMs: 0.002, msPerWordIter: 1e-4 });
  const launch = syntheticLauncher(device, kernel, bytes);
  let iters = 1;
  try {
    const work = {
      compute: (c: { stream: never; output: never; index: number }) =>
        launch(c.stream, c.output, null, c.index, iters, 0),
      setCost: (c: number) => void (iters = c),
    };
    // 4096 words × 1e-4 ms per word-iteration: 0.4096 ms an iteration, + 0.002 ms.
    const cal = await calibrateCost(device, work as never, {
      chunkBytes: bytes,
      ratios: [1],
      copyMsPerChunk: 0.4096 * 5 + 0.002,
      search: { kind: 'secant', initialCost: 1, maxCost: 64 },
    });
    const [point] = cal.points;
    assert.equal(point!.cost, 5);
    assert.equal(iters, 5, 'the cost is left set');
    assert.ok(Math.abs(point!.computeMsPerChunk / point!.targetMsPerChunk - 1) < 0.01, JSON.stringify(cal));
  } finally {
    program.close();
    device.close();
  }
});

test("calibrateCost's line search finds a cost for each ratio of the D2H time it measures, and frees what it made", async () => {
  const fake = new FakeDevice({ clock: 'virtual', copyBytesPerMs: 1e5, copyLatencyMs: 0 });
  const { program, kernel } = syntheticKernel(fake);
  const launch = syntheticLauncher(fake, kernel, 4096);
  let iters = 0;
  const work = {
    compute: (c: { stream: never; output: never; index: number }) =>
      launch(c.stream, c.output, null, c.index, iters, 0),
    setCost: (c: number) => void (iters = c),
  };
  const cal = await calibrateCost(fake, work as never, {
    chunkBytes: 4096,
    ratios: [0.5, 1, 2],
    search: { kind: 'line' },
    probe: { chunks: 1, buffers: 1, warmup: 1, repeats: 3, start: 'idle' },
  });
  program.close();
  assert.ok(cal.copyMsPerChunk > 0);
  assert.deepEqual(
    cal.points.map((p) => p.ratio),
    [0.5, 1, 2],
  );
  for (const p of cal.points) {
    assert.ok(Number.isInteger(p.cost) && p.cost >= 0);
    assert.ok(Math.abs(p.measuredRatio - p.ratio) / p.ratio < 0.25, `ratio ${p.ratio}: measured ${p.measuredRatio}`);
  }
  assert.equal(iters, cal.points[2]!.cost, "the last ratio's cost is left set");
  assertNoLeaks(fake);
});

test('timeAlone: chunks rotate through the buffers after the warm-ups, one figure per repeat, nothing left open', async () => {
  const device = new FakeDevice({ clock: 'virtual', copyBytesPerMs: 1e6, copyLatencyMs: 0 });
  const seen: string[] = [];
  const compute = await timeAlone(
    device,
    (c) => {
      seen.push(`${c.index}:${c.slot}`);
      device.memset(c.stream, c.output, 1);
    },
    { chunkBytes: 1024, chunks: 3, warmup: 2, repeats: 2 },
  );
  assert.equal(compute.length, 2);
  assert.deepEqual(seen, ['0:0', '1:1', '0:0', '1:1', '2:0', '0:0', '1:1', '2:0']);
  // 4 copies of 1 ms each (1e6 bytes at 1e6 bytes per virtual ms), three times.
  const copy = await timeAlone(device, 'copy', {
    chunkBytes: 1e6,
    chunks: 4,
    buffers: 1,
    pinned: 2,
    start: 'idle',
    repeats: 3,
  });
  assert.equal(copy.length, 3);
  for (const ms of copy) assert.ok(Math.abs(ms - 4) < 1e-9, `copy alone ${ms} ms`);
  assertNoLeaks(device);
});

test('the table names the fastest of tandem and the peers per cell, with its lead', () => {
  const cell = (wallMs: number, peers: Record<string, number>) =>
    ({
      stats: { wallMs },
      peers: Object.fromEntries(Object.entries(peers).map(([k, w]) => [k, { wallMs: w }])),
    }) as unknown as Cell;
  assert.equal(fastest(cell(100, { a: 110, b: 150 }), ['a', 'b']), 'tandem +10.0%');
  assert.equal(fastest(cell(100, { a: 98, b: 150 }), ['a', 'b']), 'a +2.0%');
  assert.equal(fastest(cell(100, {}), ['a', 'b']), '–', 'no peer ran this cell (serial beside stream peers)');
});

test('the fastest column calls it a tie where the paired rounds went both ways', () => {
  const cell = (wallMs: number, peers: Record<string, [number, [number, number]?]>) =>
    ({
      stats: { wallMs },
      peers: Object.fromEntries(
        Object.entries(peers).map(([k, [w, r]]) => [k, { wallMs: w, ...(r ? { ratioRange: r } : {}) }]),
      ),
    }) as unknown as Cell;
  assert.equal(fastest(cell(100, { a: [99.9, [0.998, 1.002]], b: [120] }), ['a', 'b']), 'tie, rounds split: a +0.1%');
  assert.equal(fastest(cell(100, { a: [100.2, [0.999, 1.004]] }), ['a']), 'tie, rounds split: tandem +0.2%');
  assert.equal(fastest(cell(100, { a: [99, [0.985, 0.995]] }), ['a']), 'a +1.0%', 'ahead in every round: a lead');
  assert.equal(fastest(cell(100, { a: [101, [1.0, 1.02]] }), ['a']), 'tandem +1.0%', 'never behind: a lead');
  // Two peers ahead of tandem: they were not paired with each other, so no tie is claimed.
  assert.equal(fastest(cell(100, { a: [98, [0.97, 1.01]], b: [99, [0.98, 1.01]] }), ['a', 'b']), 'a +1.0%');
});
