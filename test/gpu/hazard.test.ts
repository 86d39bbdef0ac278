// On the GPU: the reference sketch as written (no barriers 1 and 3), compute ≈ 0.5 × copy,
// 16 MiB × 64 chunks: how many chunks it really corrupts, tandem's pipeline corrupting none,
// and the checker reporting both races over the real device.
//   bash .gpu-host/run.sh node --test dist/test/gpu/hazard.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { driverAvailable } from '../../src/core/open.js';
import { open } from '../../src/pipeline/device.js';
import { calibrate, pipelineRun, sketchRun } from '../../bench/race.js';
import { freeAfterRuns } from './memory.js';

const avail = driverAvailable();
const skip = avail.ok ? false : `no CUDA driver: ${avail.reason}`;
const BYTES = 16 * 1024 * 1024;
const CHUNKS = 64;

test(
  'the sketch corrupts chunks on the GPU, tandem does not, and the checker names both races',
  { skip, timeout: 300_000 },
  async () => {
    const device = await open(0);
    try {
      const before = device.memoryInfo().free;
      const rk = await calibrate(device, BYTES, 0.5);
      console.error(
        `  D2H ${rk.copyMs.toFixed(3)} ms, kernel ${rk.computeMs.toFixed(3)} ms (iters ${rk.iters}), ratio ${(rk.computeMs / rk.copyMs).toFixed(2)}`,
      );

      const asWritten = await sketchRun(device, rk, CHUNKS, undefined, false);
      const onlyB3 = await sketchRun(device, rk, CHUNKS, { hostRelease: true }, false);
      const fixed = await sketchRun(device, rk, CHUNKS, { computeWaitsOnCopy: true, hostRelease: true }, false);
      const tandem = await pipelineRun(device, rk, CHUNKS, 2, false);
      for (const r of [asWritten, onlyB3, fixed, tandem])
        console.error(
          `  ${r.variant}: ${r.corrupted}/${r.chunks} corrupted, ${r.missing} missing, ${r.wallMs.toFixed(1)} ms`,
        );

      assert.equal(tandem.corrupted, 0, "tandem's pipeline delivers every chunk intact");
      assert.equal(tandem.missing, 0);
      assert.equal(fixed.corrupted, 0, 'the sketch with both barriers added is intact');

      // A worker that takes a millisecond more per chunk (a disk write), so the launcher runs ahead.
      const checkedSketch = await sketchRun(device, rk, CHUNKS, undefined, true, 1);
      console.error(
        `  checked sketch: ${checkedSketch.hazards} hazards, barriers ${checkedSketch.barriers.join(', ')}`,
      );
      assert.ok(checkedSketch.barriers.includes(1), 'barrier 1 reported on the GPU');
      assert.ok(checkedSketch.barriers.includes(3), 'barrier 3 reported on the GPU');

      const checkedTandem = await pipelineRun(device, rk, CHUNKS, 2, true);
      assert.equal(checkedTandem.hazards, 0, 'no hazard in tandem’s own pipeline on the GPU');
      assert.equal(checkedTandem.corrupted, 0);

      // Everything the runs allocated went back, and is freed with the pool trimmed (the
      // compile cache and module stay loaded).
      const after = await freeAfterRuns('after the runs', device);
      assert.ok(Math.abs(after - before) < 64 * 1024 * 1024, `device memory back to baseline: ${before} → ${after}`);
    } finally {
      await device[Symbol.asyncDispose]();
    }
  },
);
