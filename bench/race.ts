// What the reference page's PyTorch sketch really does to the data on a GPU, next to tandem's
// pipeline. 16 MiB chunks, 64 of them, a kernel calibrated to take ratio × the D2H's time
// (default 0.5: compute faster than the copy, where the missing barrier 1 bites). Each chunk's
// kernel writes a pattern only that chunk has; the host stage checks every word.
//   bash .gpu-host/run.sh node dist/bench/race.js [--ratio 0.5] [--chunks 64] [--mib 16] [--fake]
// Prints a table on stdout and, with OUT set, writes $OUT/race.json.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checked, createPipeline, type Device, type Kernel } from 'tandem';
import { calibrateCost, runSketch, type SketchOptions } from 'tandem/bench';

export const FILL_SOURCE = `
extern "C" __global__ void race_fill(unsigned int* out, unsigned int words, unsigned int chunk, unsigned int iters) {
  unsigned int stride = blockDim.x * gridDim.x;
  for (unsigned int w = blockIdx.x * blockDim.x + threadIdx.x; w < words; w += stride) {
    // Burn 'iters' rounds of integer work the compiler cannot drop, then write the chunk's pattern.
    unsigned int x = w ^ chunk;
    for (unsigned int k = 0; k < iters; k++) x = x * 1664525u + 1013904223u;
    out[w] = (x == 0xffffffffu && iters == 0xffffffffu) ? 0u : chunk * 2654435761u + w;
  }
}
`;

export interface RaceKernel {
  kernel: Kernel;
  words: number;
  iters: number;
  computeMs: number;
  copyMs: number;
}

const BLOCK = 256;

/**
 * Compiles the kernel and picks iters so that one launch takes ≈ ratio × one D2H of `bytes`
 * (calibrateCost's 'line' search; each probe: 5 chunks from an idle stream after a warm-up).
 */
export async function calibrate(device: Device, bytes: number, ratio: number): Promise<RaceKernel> {
  const words = bytes / 4;
  const grid = Math.min(Math.ceil(words / BLOCK), device.properties.smCount * 16);
  const kernel = device
    .compile(FILL_SOURCE, { name: 'race.cu', kernels: { race_fill: ['pointer', 'u32', 'u32', 'u32'] } })
    .getKernel('race_fill');
  let iters = 0;
  const cal = await calibrateCost(
    device,
    {
      compute: (c) => kernel.launch(c.stream, { grid, block: BLOCK }, c.output, words, 0, iters),
      setCost: (cost) => void (iters = cost),
    },
    {
      chunkBytes: bytes,
      ratios: [ratio],
      search: { kind: 'line' },
      probe: { chunks: 5, buffers: 1, warmup: 1, start: 'idle' },
    },
  );
  const point = cal.points[0]!;
  return { kernel, words, iters: point.cost, computeMs: point.computeMsPerChunk, copyMs: cal.copyMsPerChunk };
}

/** True when `data` holds exactly chunk n's pattern. */
export function intact(data: Uint8Array, n: number): boolean {
  const w = new Uint32Array(data.buffer, data.byteOffset, data.byteLength >>> 2);
  const base = Math.imul(n, 2654435761) >>> 0;
  for (let k = 0; k < w.length; k++) if (w[k] !== (base + k) >>> 0) return false;
  return true;
}

export interface RaceResult {
  variant: string;
  chunks: number;
  corrupted: number;
  missing: number;
  hazards: number | null;
  barriers: number[];
  wallMs: number;
}

/** The sketch, as written or with barriers added; counts chunks whose bytes are wrong. */
export async function sketchRun(
  device: Device,
  rk: RaceKernel,
  chunks: number,
  barriers: SketchOptions['barriers'],
  check: boolean,
  /** Extra time the worker takes per chunk ("writing to disk"); lets the launcher run ahead. */
  workerDelayMs = 0,
): Promise<RaceResult> {
  const dev = check ? checked(device, { onHazard: 'collect' }) : device;
  const seen = new Set<number>();
  let corrupted = 0;
  const t0 = performance.now();
  // Compile through the checked device so its launches are tracked; same kernel and iters.
  const k = check
    ? dev
        .compile(FILL_SOURCE, { name: 'race.cu', kernels: { race_fill: ['pointer', 'u32', 'u32', 'u32'] } })
        .getKernel('race_fill')
    : rk.kernel;
  const grid = Math.min(Math.ceil(rk.words / BLOCK), device.properties.smCount * 16);
  await runSketch(dev, {
    chunks,
    outputBytes: rk.words * 4,
    barriers,
    decode: (stream, out, n) =>
      k.launch(stream, { grid, block: BLOCK, writes: [out], chunk: n }, out, rk.words, n, rk.iters),
    worker: async (data, n) => {
      seen.add(n);
      if (!intact(data, n)) corrupted++;
      if (workerDelayMs > 0) await new Promise((r) => setTimeout(r, workerDelayMs));
    },
  });
  const wallMs = performance.now() - t0;
  const hazards = check ? (dev as ReturnType<typeof checked>).hazards : null;
  const name =
    `sketch${barriers?.computeWaitsOnCopy ? ' +barrier1' : ''}${barriers?.hostRelease ? ' +barrier3' : ''}` +
    `${check ? ' (checked)' : ''}${workerDelayMs ? `, worker +${workerDelayMs} ms` : ''}`;
  return {
    variant: name,
    chunks,
    corrupted,
    missing: chunks - seen.size,
    hazards: hazards ? hazards.length : null,
    barriers: hazards ? [...new Set(hazards.map((h) => h.barrier ?? 0))].sort() : [],
    wallMs,
  };
}

/** tandem's pipeline on the same kernel and sizes, optionally under the checker. */
export async function pipelineRun(
  device: Device,
  rk: RaceKernel,
  chunks: number,
  depth: number,
  check: boolean,
): Promise<RaceResult> {
  const dev = check ? checked(device, { onHazard: 'collect' }) : device;
  const k = check
    ? dev
        .compile(FILL_SOURCE, { name: 'race.cu', kernels: { race_fill: ['pointer', 'u32', 'u32', 'u32'] } })
        .getKernel('race_fill')
    : rk.kernel;
  const grid = Math.min(Math.ceil(rk.words / BLOCK), device.properties.smCount * 16);
  let corrupted = 0;
  const seen = new Set<number>();
  const t0 = performance.now();
  const pipeline = createPipeline(dev, {
    outputBytes: rk.words * 4,
    depth,
    compute: (c) =>
      k.launch(
        c.stream,
        { grid, block: BLOCK, writes: [c.output], chunk: c.index },
        c.output,
        rk.words,
        c.index,
        rk.iters,
      ),
    sink: (c) => {
      seen.add(c.index);
      if (!intact(c.data, c.index)) corrupted++;
    },
  });
  try {
    await pipeline.run(chunks);
  } finally {
    pipeline.close();
  }
  const hazards = check ? (dev as ReturnType<typeof checked>).hazards : null;
  return {
    variant: `tandem pipeline depth ${depth}${check ? ' (checked)' : ''}`,
    chunks,
    corrupted,
    missing: chunks - seen.size,
    hazards: hazards ? hazards.length : null,
    barriers: hazards ? [...new Set(hazards.map((h) => h.barrier ?? 0))].sort() : [],
    wallMs: performance.now() - t0,
  };
}

function arg(name: string, fallback: number): number {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? Number(process.argv[k + 1]) : fallback;
}

/** --fake: the same flow on the fake device (a smoke test without a GPU; virtual times). */
async function fakeDevice(): Promise<Device> {
  const { FakeDevice } = await import('tandem/testing');
  const fake = new FakeDevice();
  fake.defineKernel(
    'race_fill',
    ['pointer', 'u32', 'u32', 'u32'],
    (_c, out, words, chunk) => {
      const o = out as Uint8Array;
      const w = new Uint32Array(o.buffer, o.byteOffset, Number(words));
      const base = Math.imul(Number(chunk), 2654435761) >>> 0;
      for (let k = 0; k < w.length; k++) w[k] = (base + k) >>> 0;
    },
    (_out, _words, _chunk, iters) => 0.005 + Number(iters) * 1e-4,
  );
  return fake;
}

async function main(): Promise<void> {
  const ratio = arg('ratio', 0.5);
  const chunks = arg('chunks', 64);
  const bytes = arg('mib', 16) * 1024 * 1024;
  const device = process.argv.includes('--fake')
    ? await fakeDevice()
    : await (await import('tandem')).open(arg('device', 0));
  try {
    process.stderr.write(
      `race: ${device.properties.name}, ${chunks} chunks of ${bytes / 2 ** 20} MiB, compute/copy target ${ratio}\n`,
    );
    const rk = await calibrate(device, bytes, ratio);
    process.stderr.write(
      `race: D2H ${rk.copyMs.toFixed(3)} ms, kernel ${rk.computeMs.toFixed(3)} ms (iters ${rk.iters}), ratio ${(rk.computeMs / rk.copyMs).toFixed(2)}\n`,
    );
    const results: RaceResult[] = [];
    const variants: Array<() => Promise<RaceResult>> = [
      () => sketchRun(device, rk, chunks, undefined, false),
      () => sketchRun(device, rk, chunks, { hostRelease: true }, false),
      () => sketchRun(device, rk, chunks, { computeWaitsOnCopy: true, hostRelease: true }, false),
      () => pipelineRun(device, rk, chunks, 2, false),
      () => pipelineRun(device, rk, chunks, 3, false),
      () => sketchRun(device, rk, chunks, undefined, true, 1),
      () => pipelineRun(device, rk, chunks, 2, true),
    ];
    for (const v of variants) {
      const r = await v();
      results.push(r);
      process.stderr.write(`race: ${r.variant}: ${r.corrupted}/${r.chunks} corrupted\n`);
    }
    const rows = results.map((r) =>
      [
        r.variant.padEnd(38),
        String(r.corrupted).padStart(9),
        String(r.missing).padStart(7),
        (r.hazards === null ? '-' : `${r.hazards} (barriers ${r.barriers.join(',') || 'none'})`).padStart(24),
        r.wallMs.toFixed(1).padStart(9),
      ].join(' '),
    );
    process.stdout.write(
      [
        `compute/copy ${(rk.computeMs / rk.copyMs).toFixed(2)} ` +
          `(kernel ${rk.computeMs.toFixed(3)} ms, D2H ${rk.copyMs.toFixed(3)} ms), ` +
          `${chunks} × ${bytes / 2 ** 20} MiB on ${device.properties.name}`,
        `${'variant'.padEnd(38)} ${'corrupted'.padStart(9)} ${'missing'.padStart(7)} ${'hazards'.padStart(24)} ${'wall ms'.padStart(9)}`,
        ...rows,
        '',
      ].join('\n'),
    );
    if (process.env.OUT) {
      writeFileSync(
        join(process.env.OUT, 'race.json'),
        JSON.stringify(
          {
            device: device.properties,
            ratio: rk.computeMs / rk.copyMs,
            computeMs: rk.computeMs,
            copyMs: rk.copyMs,
            iters: rk.iters,
            bytes,
            results,
          },
          null,
          2,
        ),
      );
    }
  } finally {
    await device[Symbol.asyncDispose]();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`race: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
