// The overlap pipeline on a real GPU: output bit-identical to the serial baseline and to the CPU
// reference on random inputs, for every depth 1..6, with and without uploads; and the fault
// cases (compute throws, sink rejects, abort) leave the device usable and its memory at baseline.
// Skips, with the reason, without a driver. Progress on stderr.
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { test } from 'node:test';
import { driverAvailable } from '../../src/core/open.js';
import { open } from '../../src/pipeline/device.js';
import type { Device } from '../../src/pipeline/device.js';
import { createPipeline, PipelineError, type PipelineMode } from '../../src/pipeline/index.js';
import { synthetic, type WorkloadInstance } from '../../src/workloads/synthetic.js';
import { freeAfterRuns, settledFree } from './memory.js';

const avail = driverAvailable();
const skip = avail.ok ? false : `no CUDA driver: ${avail.reason}`;
if (skip) console.log(`# skipping GPU pipeline tests: ${skip}`);

const log = (line: string) => process.stderr.write(`[gpu pipeline] ${line}\n`);
const OUT = 256 * 1024;
const IN = 64 * 1024;
const CHUNKS = 20;
const ITERS = 8;

let device: Device;
let inputs: Uint8Array[];
const workloads: { plain: WorkloadInstance; upload: WorkloadInstance; close(): void }[] = [];

function randomInputs(n: number): Uint8Array[] {
  return Array.from({ length: n }, () => randomFillSync(new Uint8Array(IN)));
}

async function runCollect(
  mode: PipelineMode,
  depth: number,
  uploads: boolean,
  trace = false,
): Promise<{ outs: Uint8Array[]; stats: import('../../src/pipeline/index.js').PipelineStats }> {
  const w = uploads ? workloads[0]!.upload : workloads[0]!.plain;
  const outs: Uint8Array[] = [];
  const pipe = createPipeline<Uint8Array>(device, {
    outputBytes: OUT,
    inputBytes: uploads ? IN : undefined,
    depth,
    mode,
    trace,
    label: `${mode} d${depth}${uploads ? ' up' : ''}`,
    compute: (c) => w.compute(c),
    sink: async (c) => {
      outs[c.index] = c.data.slice();
    },
  });
  const stats = await pipe.run(inputs);
  return { outs, stats };
}

test('setup: open device 0, compile the synthetic kernel, random inputs', { skip }, async () => {
  device = await open(0);
  log(`device: ${device.properties.name}, ${device.properties.asyncEngineCount} copy engines`);
  const plain = synthetic({ outputBytes: OUT, iters: ITERS });
  const upload = synthetic({ outputBytes: OUT, inputBytes: IN, iters: ITERS });
  workloads.push({
    plain: plain.setup(device),
    upload: upload.setup(device),
    close: () => (plain.close(), upload.close()),
  });
  inputs = randomInputs(CHUNKS);
});

for (const uploads of [false, true]) {
  test(
    `serial and overlap depth 1..6${uploads ? ' with uploads' : ''}: bit-identical to each other and to the CPU reference`,
    { skip },
    async () => {
      const w = uploads ? workloads[0]!.upload : workloads[0]!.plain;
      const serial = await runCollect('serial', 1, uploads);
      assert.equal(serial.outs.length, CHUNKS);
      for (let n = 0; n < CHUNKS; n++) {
        const want = w.reference!(n, uploads ? inputs[n] : undefined);
        assert.ok(Buffer.compare(serial.outs[n]!, want) === 0, `serial chunk ${n} differs from the CPU reference`);
      }
      log(
        `serial${uploads ? ' +uploads' : ''}: ${CHUNKS} chunks match the CPU reference (${serial.stats.wallMs.toFixed(1)} ms)`,
      );
      for (let depth = 1; depth <= 6; depth++) {
        const o = await runCollect('overlap', depth, uploads);
        assert.equal(o.outs.length, CHUNKS);
        for (let n = 0; n < CHUNKS; n++) {
          assert.ok(Buffer.compare(o.outs[n]!, serial.outs[n]!) === 0, `depth ${depth} chunk ${n} differs from serial`);
        }
        log(
          `overlap depth ${depth}${uploads ? ' +uploads' : ''}: identical to serial (${o.stats.wallMs.toFixed(1)} ms)`,
        );
      }
    },
  );
}

test('trace: timeline in host time respects the barriers; auto depth explains itself', { skip }, async () => {
  const { stats } = await runCollect('overlap', 3, true, true);
  const tl = stats.timeline!;
  assert.equal(tl.length, CHUNKS);
  const slack = 0.05; // ms: the clock alignment is good to about a launch latency
  for (const t of tl) {
    assert.ok(t.copy[0] >= t.compute[1] - 1e-3, `barrier 2 at chunk ${t.index}`);
    assert.ok(t.sink[0] >= t.copy[1] - slack, `barrier 4 at chunk ${t.index}: sink ${t.sink[0]} copy end ${t.copy[1]}`);
    const p = tl[t.index - 3];
    if (p) assert.ok(t.compute[0] >= p.copy[1] - 1e-3, `barrier 1 at chunk ${t.index}`);
  }
  log(
    `trace: efficiency ${stats.efficiency?.toFixed(3)} bottleneck ${stats.bottleneck} ` +
      `compute ${stats.stages.compute.busyMs?.toFixed(2)} ms copy ${stats.stages.copy.busyMs?.toFixed(2)} ms ` +
      `upload ${stats.stages.upload.busyMs?.toFixed(2)} ms wall ${stats.wallMs.toFixed(2)} ms`,
  );
  const w = workloads[0]!.plain;
  const auto = await createPipeline(device, { outputBytes: OUT, compute: (c) => w.compute(c), sink: () => {} }).run(40);
  assert.ok(auto.depth >= 2 && auto.depth <= 16);
  log(`auto: ${auto.depthReason}`);
});

async function expectCleanFailure(
  what: string,
  run: () => Promise<unknown>,
  check: (e: unknown) => void,
): Promise<void> {
  const before = await settledFree(device);
  const err = await run().then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err, `${what}: the run should reject`);
  check(err);
  const after = await freeAfterRuns(what, device);
  log(
    `${what}: rejected with ${(err as Error).name}: ${(err as Error).message.split('\n')[0]}; free memory ${before} → ${after}`,
  );
  // Less than one output slot (256 KiB) of slack: the driver may keep small bookkeeping pages.
  assert.ok(Math.abs(after - before) < 64 * 1024, `${what}: device memory back to its baseline (${before} → ${after})`);
  // The device still works.
  const again = await runCollect('overlap', 2, false);
  assert.equal(again.outs.length, CHUNKS);
}

for (const mode of ['overlap', 'serial'] as const) {
  for (const at of [0, CHUNKS >> 1, CHUNKS - 1]) {
    test(
      `${mode}: compute throws at chunk ${at} → PipelineError, memory at baseline, device usable`,
      { skip },
      async () => {
        const w = workloads[0]!.plain;
        await expectCleanFailure(
          `${mode} compute@${at}`,
          () =>
            createPipeline(device, {
              outputBytes: OUT,
              depth: 3,
              mode,
              compute(c) {
                if (c.index === at) throw new Error('compute callback failed');
                w.compute(c);
              },
            }).run(CHUNKS),
          (e) => {
            assert.ok(e instanceof PipelineError);
            assert.equal(e.stage, 'compute');
            assert.equal(e.chunk, at);
          },
        );
      },
    );
    test(
      `${mode}: sink rejects at chunk ${at} → PipelineError, memory at baseline, device usable`,
      { skip },
      async () => {
        const w = workloads[0]!.plain;
        await expectCleanFailure(
          `${mode} sink@${at}`,
          () =>
            createPipeline(device, {
              outputBytes: OUT,
              depth: 3,
              mode,
              compute: (c) => w.compute(c),
              async sink(c) {
                if (c.index === at) throw new Error('sink failed');
              },
            }).run(CHUNKS),
          (e) => {
            assert.ok(e instanceof PipelineError);
            assert.equal(e.stage, 'sink');
            assert.equal(e.chunk, at);
          },
        );
      },
    );
  }
  test(`${mode}: abort mid-run rejects with the reason, memory at baseline, device usable`, { skip }, async () => {
    const w = workloads[0]!.plain;
    const ac = new AbortController();
    const reason = new Error('stop');
    await expectCleanFailure(
      `${mode} abort`,
      () =>
        createPipeline(device, {
          outputBytes: OUT,
          depth: 3,
          mode,
          compute: (c) => w.compute(c),
          sink(c) {
            if (c.index === 7) ac.abort(reason);
          },
        }).run(1000, { signal: ac.signal }),
      (e) => assert.equal(e, reason),
    );
  });
}

test('teardown', { skip }, async () => {
  for (const w of workloads) w.close();
  await (device as unknown as AsyncDisposable)[Symbol.asyncDispose]();
});
