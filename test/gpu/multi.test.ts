// The multi-device pipeline on real GPUs. With one GPU: two pipelines on the same device (one
// Device listed twice, and device 0 opened twice), output bit-exact against the CPU reference
// and in order; a failure on one pipeline stops both and leaves device memory at its baseline.
// With two or more GPUs: the same over openDevices('all'). Skips, with the reason, without a
// driver. Progress on stderr.
//   bash .gpu-host/run.sh node --test dist/test/gpu/multi.test.js
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { test } from 'node:test';
import { driverAvailable } from '../../src/core/open.js';
import { open } from '../../src/pipeline/device.js';
import type { Device } from '../../src/pipeline/device.js';
import { PipelineError } from '../../src/pipeline/index.js';
import {
  MultiPipelineError,
  closeDevices,
  createMultiPipeline,
  openDevices,
  type MultiPipelineStats,
} from '../../src/pipeline/multi.js';
import { synthetic, type Workload, type WorkloadInstance } from '../../src/workloads/synthetic.js';
import { freeAfterRuns, settledFree } from './memory.js';

const avail = driverAvailable();
const skip = avail.ok ? false : `no CUDA driver: ${avail.reason}`;
if (skip) console.log(`# skipping GPU multi-device tests: ${skip}`);
const skipMulti =
  skip ||
  (avail.ok && avail.devices < 2 ? `one GPU visible (${avail.devices}); the several-GPU case needs 2 or more` : false);

const log = (line: string) => process.stderr.write(`[gpu multi] ${line}\n`);
const OUT = 256 * 1024;
const IN = 64 * 1024;
const CHUNKS = 64;
const ITERS = 8;

let device: Device;
const plain = synthetic({ outputBytes: OUT, iters: ITERS });
const upload = synthetic({ outputBytes: OUT, inputBytes: IN, iters: ITERS });
/** One workload instance per distinct Device (a kernel belongs to one context). */
const instances = new Map<Device, { plain: WorkloadInstance; upload: WorkloadInstance }>();

function instanceFor(d: Device) {
  let i = instances.get(d);
  if (!i) instances.set(d, (i = { plain: plain.setup(d), upload: upload.setup(d) }));
  return i;
}

async function runCollect(
  devices: Device[],
  uploads: boolean,
  depth: number,
  inputs?: Uint8Array[],
): Promise<{ outs: Uint8Array[]; stats: MultiPipelineStats }> {
  for (const d of devices) instanceFor(d);
  const outs: Uint8Array[] = [];
  const order: number[] = [];
  const pipe = createMultiPipeline<Uint8Array | number>(devices, {
    outputBytes: OUT,
    inputBytes: uploads ? IN : undefined,
    depth,
    compute: (c) => (uploads ? instanceFor(c.device).upload : instanceFor(c.device).plain).compute(c),
    sink: async (c) => {
      order.push(c.index);
      outs[c.index] = c.data.slice();
    },
  });
  const stats = await pipe.run(inputs ?? CHUNKS);
  assert.deepEqual(
    order,
    Array.from({ length: CHUNKS }, (_, k) => k),
    'global order, each chunk once',
  );
  return { outs, stats };
}

function checkReference(outs: Uint8Array[], w: Workload, inputs?: Uint8Array[]): void {
  const inst = instanceFor(device);
  for (let n = 0; n < CHUNKS; n++) {
    const want = (inputs ? inst.upload : inst.plain).reference!(n, inputs?.[n]);
    assert.ok(Buffer.compare(outs[n]!, want) === 0, `chunk ${n} differs from the CPU reference (${w.name})`);
  }
}

const shares = (s: MultiPipelineStats) => s.perDevice.map((d) => `${d.deviceIndex}:${d.chunks}`).join(' ');

test('setup: open device 0, compile the synthetic kernels', { skip }, async () => {
  device = await open(0);
  instanceFor(device);
  log(`device: ${device.properties.name}; ${avail.ok ? avail.devices : 0} visible`);
});

for (const uploads of [false, true]) {
  test(
    `one Device listed twice${uploads ? ', with uploads' : ''}: in order, bit-exact vs the CPU reference, depth 2 and 3`,
    { skip },
    async () => {
      const inputs = uploads ? Array.from({ length: CHUNKS }, () => randomFillSync(new Uint8Array(IN))) : undefined;
      for (const depth of [2, 3]) {
        const { outs, stats } = await runCollect([device, device], uploads, depth, inputs);
        checkReference(outs, uploads ? upload : plain, inputs);
        assert.ok(
          stats.perDevice.every((d) => d.chunks > 0),
          `both pipelines got chunks: ${shares(stats)}`,
        );
        log(
          `same Device ×2 depth ${depth}${uploads ? ' +uploads' : ''}: ${CHUNKS} chunks match; ` +
            `shares ${shares(stats)}; ${stats.wallMs.toFixed(1)} ms; ${stats.bottleneck.reason}`,
        );
      }
    },
  );
}

test('device 0 opened twice (two Device objects on one context): in order, bit-exact', { skip }, async () => {
  const second = await open(0);
  try {
    const { outs, stats } = await runCollect([device, second], false, 2);
    checkReference(outs, plain);
    log(`open(0) ×2: ${CHUNKS} chunks match; shares ${shares(stats)}`);
  } finally {
    instances.delete(second);
    await (second as unknown as AsyncDisposable)[Symbol.asyncDispose]();
  }
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
  log(`${what}: ${(err as Error).name}: ${(err as Error).message.split('\n')[0]}; free memory ${before} → ${after}`);
  assert.ok(Math.abs(after - before) < 64 * 1024, `${what}: device memory back to its baseline (${before} → ${after})`);
  const again = await runCollect([device, device], false, 2);
  checkReference(again.outs, plain);
}

test(
  'compute throws on pipeline 1: both stop, PipelineError names stage, chunk and device; memory at baseline',
  { skip },
  async () => {
    let at = -1;
    await expectCleanFailure(
      'compute fault',
      () =>
        createMultiPipeline([device, device], {
          outputBytes: OUT,
          depth: 3,
          compute(c) {
            if (c.deviceIndex === 1 && c.index >= 9 && at < 0) {
              at = c.index;
              throw new Error('compute callback failed');
            }
            instanceFor(c.device).plain.compute(c);
          },
        }).run(CHUNKS * 4),
      (e) => {
        assert.ok(e instanceof PipelineError && e instanceof MultiPipelineError);
        assert.equal(e.stage, 'compute');
        assert.equal(e.chunk, at);
        assert.equal(e.deviceIndex, 1);
        assert.equal(e.device, device.ordinal);
      },
    );
  },
);

test('sink rejects, and abort: both pipelines stop, memory at baseline', { skip }, async () => {
  await expectCleanFailure(
    'sink fault',
    () =>
      createMultiPipeline([device, device], {
        outputBytes: OUT,
        depth: 2,
        compute: (c) => instanceFor(c.device).plain.compute(c),
        async sink(c) {
          if (c.index === 17) throw new Error('sink failed');
        },
      }).run(CHUNKS * 4),
    (e) => {
      assert.ok(e instanceof MultiPipelineError);
      assert.equal(e.stage, 'sink');
      assert.equal(e.chunk, 17);
    },
  );
  const ac = new AbortController();
  const reason = new Error('stop');
  await expectCleanFailure(
    'abort',
    () =>
      createMultiPipeline([device, device], {
        outputBytes: OUT,
        depth: 3,
        compute: (c) => instanceFor(c.device).plain.compute(c),
        sink(c) {
          if (c.index === 7) ac.abort(reason);
        },
      }).run(1000, { signal: ac.signal }),
    (e) => assert.equal(e, reason),
  );
});

test("several GPUs: openDevices('all'), in order, bit-exact, every device used", { skip: skipMulti }, async () => {
  const devices = await openDevices('all');
  try {
    const { outs, stats } = await runCollect(devices, false, 3);
    checkReference(outs, plain);
    assert.ok(
      stats.perDevice.every((d) => d.chunks > 0),
      shares(stats),
    );
    log(`${devices.length} GPUs: ${CHUNKS} chunks match; shares ${shares(stats)}; ${stats.bottleneck.reason}`);
  } finally {
    for (const d of devices) instances.delete(d);
    closeDevices(devices);
  }
});

test('teardown', { skip }, async () => {
  plain.close();
  upload.close();
  instances.clear();
  await (device as unknown as AsyncDisposable)[Symbol.asyncDispose]();
});
