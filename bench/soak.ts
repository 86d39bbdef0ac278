// Soak on the GPU: ≥10,000 chunks through one pipeline, then many short pipelines on the same
// device, sampling resident memory (VmRSS), page-locked memory (VmLck / VmPin: what
// cuMemHostAlloc pins), V8 heap and cuMemGetInfo's free bytes. Flat from start to end or it
// leaks. Every chunk's pattern is checked on the host.
//   bash .gpu-host/run.sh node --expose-gc dist/bench/soak.js [--chunks 10000] [--mib 4] [--runs 20] [--fake]
// Prints the samples and the drift on stdout; with OUT set, writes $OUT/soak.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPipeline, type Device } from 'tandem';
import { pathToFileURL } from 'node:url';

export const SOAK_SOURCE = `
extern "C" __global__ void soak_fill(unsigned int* out, unsigned int words, unsigned int chunk) {
  unsigned int stride = blockDim.x * gridDim.x;
  for (unsigned int w = blockIdx.x * blockDim.x + threadIdx.x; w < words; w += stride) out[w] = chunk * 2654435761u + w;
}
`;

/**
 * Whether a chunk holds soak_fill's pattern for `index`: a sample of its words (every 4093rd and
 * the last) keeps the host stage light; a stale slot shows in all of them.
 */
export function soakChunkIntact(data: Uint8Array, index: number, words: number): boolean {
  const w = new Uint32Array(data.buffer, data.byteOffset, words);
  const base = Math.imul(index, 2654435761) >>> 0;
  for (let k = 0; k < words; k += 4093) if (w[k] !== (base + k) >>> 0) return false;
  return w[words - 1] === (base + words - 1) >>> 0;
}

export interface Sample {
  label: string;
  chunks: number;
  rssMiB: number;
  lockedMiB: number | null;
  pinnedMiB: number | null;
  heapMiB: number;
  deviceFreeMiB: number;
}

const MiB = 1024 * 1024;

function procStatusKiB(field: string): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export function sample(device: Device, label: string, chunks: number): Sample {
  (globalThis as { gc?: () => void }).gc?.();
  const lck = procStatusKiB('VmLck');
  const pin = procStatusKiB('VmPin');
  return {
    label,
    chunks,
    rssMiB: process.memoryUsage().rss / MiB,
    lockedMiB: lck === null ? null : lck / 1024,
    pinnedMiB: pin === null ? null : pin / 1024,
    heapMiB: process.memoryUsage().heapUsed / MiB,
    deviceFreeMiB: device.memoryInfo().free / MiB,
  };
}

function arg(name: string, fallback: number): number {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? Number(process.argv[k + 1]) : fallback;
}

/** --fake: the same flow on the fake device (a smoke test without a GPU). */
export async function fakeDevice(): Promise<Device> {
  const { FakeDevice } = await import('tandem/testing');
  const fake = new FakeDevice();
  fake.defineKernel(
    'soak_fill',
    ['pointer', 'u32', 'u32'],
    (_c, out, words, chunk) => {
      const o = out as Uint8Array;
      const w = new Uint32Array(o.buffer, o.byteOffset, Number(words));
      const base = Math.imul(Number(chunk), 2654435761) >>> 0;
      for (let k = 0; k < w.length; k++) w[k] = (base + k) >>> 0;
    },
    0.05,
  );
  return fake;
}

async function main(): Promise<void> {
  const chunks = arg('chunks', 10_000);
  const bytes = arg('mib', 4) * MiB;
  const runs = arg('runs', 20);
  const words = bytes / 4;
  const device = process.argv.includes('--fake')
    ? await fakeDevice()
    : await (await import('tandem')).open(arg('device', 0));
  const samples: Sample[] = [];
  let bad = 0;
  let delivered = 0;
  try {
    const kernel = device
      .compile(SOAK_SOURCE, { name: 'soak.cu', kernels: { soak_fill: ['pointer', 'u32', 'u32'] } })
      .getKernel('soak_fill');
    const grid = Math.min(Math.ceil(words / 256), device.properties.smCount * 8);
    const make = () =>
      createPipeline(device, {
        outputBytes: bytes,
        depth: 3,
        compute: (c) => kernel.launch(c.stream, { grid, block: 256, writes: [c.output] }, c.output, words, c.index),
        sink: (c) => {
          delivered++;
          if (!soakChunkIntact(c.data, c.index, words)) bad++;
          if (c.index % 1000 === 0 && c.index > 0)
            samples.push(sample(device, `long run, chunk ${c.index}`, delivered));
        },
      });
    samples.push(sample(device, 'start', 0));
    const t0 = performance.now();
    {
      const p = make();
      try {
        await p.run(chunks);
      } finally {
        p.close();
      }
    }
    const longMs = performance.now() - t0;
    samples.push(sample(device, 'after long run', delivered));
    for (let r = 0; r < runs; r++) {
      const p = make();
      try {
        await p.run(500);
      } finally {
        p.close();
      }
      if ((r + 1) % 5 === 0) samples.push(sample(device, `after ${r + 1} short runs`, delivered));
    }
    await device.synchronize();
    samples.push(sample(device, 'end', delivered));

    const first = samples[0]!;
    const steady = samples.find((s) => s.label.includes('chunk 1000')) ?? first;
    const last = samples[samples.length - 1]!;
    const f = (x: number | null) => (x === null ? '-' : x.toFixed(1));
    const lines = [
      `soak: ${delivered} chunks of ${bytes / MiB} MiB on ${device.properties.name}; ` +
        `long run ${chunks} chunks in ${(longMs / 1000).toFixed(2)} s ` +
        `(${((chunks * bytes) / (longMs / 1000) / 1e9).toFixed(1)} GB/s), then ${runs} × 500`,
      `${'sample'.padEnd(28)} ${'chunks'.padStart(7)} ${'rss MiB'.padStart(9)} ${'VmLck'.padStart(8)} ` +
        `${'VmPin'.padStart(8)} ${'heap MiB'.padStart(9)} ${'dev free MiB'.padStart(13)}`,
      ...samples.map(
        (s) =>
          `${s.label.padEnd(28)} ${String(s.chunks).padStart(7)} ${f(s.rssMiB).padStart(9)} ${f(s.lockedMiB).padStart(8)} ` +
          `${f(s.pinnedMiB).padStart(8)} ${f(s.heapMiB).padStart(9)} ${f(s.deviceFreeMiB).padStart(13)}`,
      ),
      `drift from chunk 1000 of the long run to the end: rss ${(last.rssMiB - steady.rssMiB).toFixed(1)} MiB, ` +
        `heap ${(last.heapMiB - steady.heapMiB).toFixed(1)} MiB, ` +
        `device free ${(last.deviceFreeMiB - first.deviceFreeMiB).toFixed(1)} MiB vs start`,
      `corrupted chunks: ${bad}`,
      '',
    ];
    process.stdout.write(lines.join('\n'));
    if (process.env.OUT)
      writeFileSync(
        join(process.env.OUT, 'soak.json'),
        JSON.stringify({ device: device.properties, bytes, chunks, runs, longMs, bad, delivered, samples }, null, 2),
      );
    if (bad > 0) process.exitCode = 1;
  } finally {
    await device[Symbol.asyncDispose]();
  }
}

// Run as a script only: jobs-soak.ts imports the sampling and the kernel from here.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  main().catch((err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
