// Device pools on a real GPU: many short jobs, a fresh 'auto' pipeline each, as a service runs
// them. Every chunk matches the CPU reference; the pool never holds more than one full ring per
// shape (a job allocates only when its measurement asks for more slots than any job of its shape
// before it), and most requests are served from it; under the hazard checker no job touches a
// pooled buffer before the previous holder's work on it completed; trim() gives the memory back.
// Skips, with the reason, without a driver.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checked } from '../../src/check/index.js';
import { driverAvailable } from '../../src/core/open.js';
import { open, type Device } from '../../src/pipeline/device.js';
import { createPipeline } from '../../src/pipeline/index.js';
import { synthetic } from '../../src/workloads/synthetic.js';

const avail = driverAvailable();
const skip = avail.ok ? false : `no CUDA driver: ${avail.reason}`;
if (skip) console.log(`# skipping GPU pool tests: ${skip}`);

const log = (line: string) => process.stderr.write(`[gpu pool] ${line}\n`);
const MiB = 1024 ** 2;
const SHAPES = [
  { chunks: 16, bytes: 1 * MiB },
  { chunks: 12, bytes: 4 * MiB },
  { chunks: 6, bytes: 16 * MiB },
];
const ITERS = 8;

/** Every shape `rounds` times, one fresh pipeline per job; checks each chunk against the CPU reference. */
async function runJobs(device: Device, rounds: number, afterRound?: (round: number) => void): Promise<number[][]> {
  const walls: number[][] = SHAPES.map(() => []);
  const workloads = SHAPES.map((s) => synthetic({ outputBytes: s.bytes, iters: ITERS }));
  try {
    const instances = workloads.map((w) => w.setup(device));
    const references = SHAPES.map((s, k) =>
      Array.from({ length: s.chunks }, (_, n) => Buffer.from(instances[k]!.reference!(n))),
    );
    for (let round = 0; round < rounds; round++) {
      for (const [k, shape] of SHAPES.entries()) {
        const t0 = performance.now();
        const pipe = createPipeline(device, {
          outputBytes: shape.bytes,
          label: `job ${shape.chunks}x${shape.bytes / MiB}M`,
          compute: (c) => instances[k]!.compute(c),
          sink: (c) => {
            assert.ok(
              Buffer.compare(c.data, references[k]![c.index]!) === 0,
              `round ${round}, ${shape.chunks}x${shape.bytes / MiB}M: chunk ${c.index} differs from the CPU reference`,
            );
          },
        });
        try {
          const stats = await pipe.run(shape.chunks);
          assert.equal(stats.chunks, shape.chunks);
        } finally {
          pipe.close();
        }
        walls[k]!.push(performance.now() - t0);
      }
      afterRound?.(round);
    }
  } finally {
    for (const w of workloads) w.close();
  }
  return walls;
}

test(
  'many short jobs: every chunk intact, the pool bounded by a ring per shape, most requests served from it',
  { skip },
  async () => {
    const device = await open(0);
    try {
      const free0 = device.memoryInfo().free;
      const rounds: ReturnType<typeof device.pool.stats>[] = [];
      const walls = await runJobs(device, 8, () => rounds.push(device.pool.stats()));
      // The most one ring per shape can take: 16 slots, or the shape's chunks if fewer.
      const ringBytes = SHAPES.reduce((sum, s) => sum + Math.min(16, s.chunks) * s.bytes, 0);
      for (const [round, st] of rounds.entries()) {
        assert.ok(st.bytesPinned <= ringBytes, `round ${round}: ${st.bytesPinned} pinned bytes > ${ringBytes}`);
        assert.ok(st.bytesDevice <= ringBytes, `round ${round}: ${st.bytesDevice} device bytes > ${ringBytes}`);
      }
      // From the third round on (the first job of a shape measures, the second starts where it
      // decided), a request misses only when a measurement asks for more slots than any before.
      const first = rounds[1]!;
      const last = rounds.at(-1)!;
      const hits = last.pinned.hits - first.pinned.hits;
      const misses = last.pinned.misses - first.pinned.misses;
      assert.ok(misses <= hits / 10, `rounds 3..8: ${misses} pinned misses against ${hits} hits`);
      for (const [k, s] of SHAPES.entries()) {
        const w = walls[k]!;
        const steady = [...w.slice(2)].sort((a, b) => a - b)[(w.length - 2) >> 1]!;
        log(
          `${s.chunks}x${s.bytes / MiB}M: first ${w[0]!.toFixed(2)} ms, second ${w[1]!.toFixed(2)} ms, ` +
            `median after ${steady.toFixed(2)} ms`,
        );
      }
      log(
        `pinned misses after each round: ${rounds.map((st) => st.pinned.misses).join(' ')}; rounds 3..8: ${hits} hits`,
      );
      // Nothing is in use between jobs; trim() frees what idles, and the device's memory comes back.
      assert.equal(last.pinned.inUse + last.device.inUse, 0);
      device.pool.trim();
      const trimmed = device.pool.stats();
      assert.equal(trimmed.bytesPinned, 0);
      assert.equal(trimmed.bytesDevice, 0);
      // The kernels' modules stay loaded; the rings' device memory (tens of MiB) is back.
      assert.ok(device.memoryInfo().free >= free0 - 32 * MiB, `free ${device.memoryInfo().free} < ${free0} - 32 MiB`);
    } finally {
      device.close();
    }
  },
);

test(
  'many short jobs under the hazard checker: no pooled buffer is reused before its last holder finished',
  { skip },
  async () => {
    const device = checked(await open(0), { onHazard: 'collect' });
    try {
      await runJobs(device, 3);
      assert.deepEqual(
        device.hazards.map((h) => h.message),
        [],
      );
      const st = device.pool.stats();
      assert.ok(st.pinned.hits > 0 && st.device.hits > 0, JSON.stringify(st));
    } finally {
      device.close();
    }
  },
);
