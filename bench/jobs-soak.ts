// Jobs soak: 10,000 short jobs of mixed sizes in one process, a fresh pipeline each ('auto'
// depth, the ring from the device pool), as a service runs them. Samples resident memory
// (VmRSS), page-locked memory (VmLck / VmPin), V8 heap, cuMemGetInfo's free bytes and the pool's
// own figures every 1000 jobs: flat from the first sample to the last, or something leaks. A
// sample of every chunk's words is checked on the host (a stale or reused-too-early slot shows).
//   bash .gpu-host/run.sh node --expose-gc dist/bench/jobs-soak.js [--jobs 10000] [--fake]
// Prints the samples on stdout; with OUT set, writes $OUT/jobs-soak.json.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPipeline, open } from 'tandem';
import { jobKey } from 'tandem/bench';
import { SOAK_SOURCE, fakeDevice, sample, soakChunkIntact, type Sample } from './soak.js';

const MiB = 1024 * 1024;

function arg(name: string, fallback: number): number {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? Number(process.argv[k + 1]) : fallback;
}

async function main(): Promise<void> {
  const fake = process.argv.includes('--fake');
  const jobs = arg('jobs', fake ? 1000 : 10_000);
  // The jobs bench's three shapes (smaller on the fake device, whose kernels run in JS).
  const shapes = fake
    ? [
        { chunks: 16, bytes: 64 * 1024 },
        { chunks: 16, bytes: 256 * 1024 },
        { chunks: 8, bytes: MiB },
      ]
    : [
        { chunks: 16, bytes: 4 * MiB },
        { chunks: 16, bytes: 16 * MiB },
        { chunks: 8, bytes: 64 * MiB },
      ];
  const device = fake ? await fakeDevice() : await open(arg('device', 0));
  const samples: (Sample & { jobs: number; poolPinnedMiB: number; poolDeviceMiB: number })[] = [];
  const take = (label: string, done: number) => {
    const st = device.pool.stats();
    samples.push({
      ...sample(device, label, done),
      jobs: done,
      poolPinnedMiB: st.bytesPinned / MiB,
      poolDeviceMiB: st.bytesDevice / MiB,
    });
  };
  let bad = 0;
  let chunksSeen = 0;
  try {
    const kernel = device
      .compile(SOAK_SOURCE, { name: 'soak.cu', kernels: { soak_fill: ['pointer', 'u32', 'u32'] } })
      .getKernel('soak_fill');
    // A fixed sequence of shapes (a small LCG), so runs are comparable.
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % shapes.length;
    take('start', 0);
    const t0 = performance.now();
    for (let j = 0; j < jobs; j++) {
      const { chunks, bytes } = shapes[next()]!;
      const words = bytes / 4;
      const grid = Math.min(Math.ceil(words / 256), device.properties.smCount * 8);
      const p = createPipeline(device, {
        outputBytes: bytes,
        label: 'job',
        compute: (c) => kernel.launch(c.stream, { grid, block: 256, writes: [c.output] }, c.output, words, c.index),
        sink: (c) => {
          chunksSeen++;
          if (!soakChunkIntact(c.data, c.index, words)) bad++;
        },
      });
      try {
        await p.run(chunks);
      } finally {
        p.close();
      }
      if ((j + 1) % Math.max(1, Math.floor(jobs / 10)) === 0) take(`after ${j + 1} jobs`, j + 1);
    }
    const wallMs = performance.now() - t0;
    await device.synchronize();
    const first = samples[1] ?? samples[0]!;
    const last = samples[samples.length - 1]!;
    // The allocator and V8 settle over the first jobs; a leak grows through the second half too.
    const mid = samples[Math.ceil(samples.length / 2)] ?? last;
    const f = (x: number | null) => (x === null ? '-' : x.toFixed(1));
    const st = device.pool.stats();
    const lines = [
      `jobs soak: ${jobs} jobs (${chunksSeen} chunks, ` +
        `shapes ${shapes.map((s) => jobKey({ chunks: s.chunks, chunkBytes: s.bytes })).join(', ')}) ` +
        `on ${device.properties.name} in ${(wallMs / 1000).toFixed(1)} s`,
      `${'sample'.padEnd(20)} ${'rss MiB'.padStart(9)} ${'VmLck'.padStart(8)} ${'VmPin'.padStart(8)} ` +
        `${'heap MiB'.padStart(9)} ${'dev free MiB'.padStart(13)} ${'pool pinned'.padStart(12)} ${'pool device'.padStart(12)}`,
      ...samples.map(
        (s) =>
          `${s.label.padEnd(20)} ${f(s.rssMiB).padStart(9)} ${f(s.lockedMiB).padStart(8)} ${f(s.pinnedMiB).padStart(8)} ` +
          `${f(s.heapMiB).padStart(9)} ${f(s.deviceFreeMiB).padStart(13)} ` +
          `${f(s.poolPinnedMiB).padStart(12)} ${f(s.poolDeviceMiB).padStart(12)}`,
      ),
      `drift from the first sample after jobs to the last: rss ${(last.rssMiB - first.rssMiB).toFixed(1)} MiB, ` +
        `VmLck ${f(last.lockedMiB === null || first.lockedMiB === null ? null : last.lockedMiB - first.lockedMiB)} MiB, ` +
        `device free ${(last.deviceFreeMiB - first.deviceFreeMiB).toFixed(1)} MiB, ` +
        `pool pinned ${(last.poolPinnedMiB - first.poolPinnedMiB).toFixed(1)} MiB`,
      // Page-locked buffers are resident: a buffer the pool adds (a ring 'auto' grew) shows in rss.
      `rss over the second half (${mid.label} to ${last.label}): ${(last.rssMiB - mid.rssMiB).toFixed(1)} MiB; ` +
        `less the pool's pinned bytes: ${(last.rssMiB - last.poolPinnedMiB - (mid.rssMiB - mid.poolPinnedMiB)).toFixed(1)} MiB`,
      `pool: pinned hits ${st.pinned.hits}, misses ${st.pinned.misses}; device hits ${st.device.hits}, misses ${st.device.misses}`,
      `corrupted chunks: ${bad}`,
      '',
    ];
    process.stdout.write(lines.join('\n'));
    if (process.env.OUT)
      writeFileSync(
        join(process.env.OUT, 'jobs-soak.json'),
        JSON.stringify({ device: device.properties.name, jobs, chunksSeen, wallMs, bad, pool: st, samples }, null, 2),
      );
    if (bad > 0) process.exitCode = 1;
  } finally {
    await device[Symbol.asyncDispose]();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`jobs-soak: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
