// Kernel launch cost from Node, 0 and 4 arguments: mean host µs per launch over many
// back-to-back launches (bench/peers/launch_cupy.py measures CuPy the same way, in the same run).
// Rows: tandem's Kernel.launch (validated, arguments packed in place), the bare cuLaunchKernel
// call with pre-packed arguments (the floor), and arguments re-marshalled by koffi per call
// (what a plain koffi binding does).
//   bash .gpu-host/run.sh node --import tsx bench/launch.ts [out.json]
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import { driverAvailable, open } from '../src/core/open.js';
import { EMPTY_KERNEL_SOURCE, measureLaunchCost } from '../src/core/measure.js';
import { KernelArgs } from '../src/core/kernel-args.js';
import { driver } from '../src/cuda/driver.js';
import type { CudaKernel } from '../src/core/kernel.js';

const LAUNCHES = Number(process.env.LAUNCHES ?? 20000);

const avail = driverAvailable();
if (!avail.ok) {
  console.error(`bench/launch: skipped: ${avail.reason}`);
  process.exit(0);
}

await using device = await open(0);
using program = device.compile(EMPTY_KERNEL_SOURCE, {
  name: 'launch.cu',
  kernels: { empty: [], four: ['pointer', 'pointer', 'u32', 'f32'] },
});
using stream = device.createStream({ label: 'launch' });
using out = device.allocDevice(64, 'out');
using inp = device.allocDevice(64, 'in');
const empty = program.getKernel('empty') as CudaKernel;
const four = program.getKernel('four') as CudaKernel;
const cfg = { grid: 1, block: 1 };
const d = driver();

const rows: { what: string; emptyUs: number; fourArgsUs: number }[] = [];
const measure = async (f: () => void) => (await measureLaunchCost(stream, f, LAUNCHES)).meanUs;

rows.push({
  what: 'tandem kernel.launch (checked, packed in place)',
  emptyUs: await measure(() => empty.launch(stream, cfg)),
  fourArgsUs: await measure(() => four.launch(stream, cfg, out, inp, 16, 2.0)),
});

{
  const packed = new KernelArgs('four', ['pointer', 'pointer', 'u32', 'f32']);
  packed.pack([out, inp, 16, 2.0]);
  const s = stream.handle;
  rows.push({
    what: 'bare cuLaunchKernel, arguments pre-packed (floor)',
    emptyUs: await measure(() => d.cuLaunchKernel(empty.handle, 1, 1, 1, 1, 1, 1, 0, s, null, null)),
    fourArgsUs: await measure(() => d.cuLaunchKernel(four.handle, 1, 1, 1, 1, 1, 1, 0, s, packed.params, null)),
  });
  packed.free();
}

{
  // A plain koffi binding: kernelParams declared as `void **`, a fresh JS array of fresh
  // buffers marshalled on every call.
  const lib = koffi.load(d.libraryPath);
  const launch = lib.func(
    'int cuLaunchKernel(void *f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz, unsigned int shm, void *s, void **params, void **extra)',
  );
  const s = stream.handle;
  const o = out.ptr;
  const i = inp.ptr;
  try {
    rows.push({
      what: 'plain koffi, arguments re-marshalled per call',
      emptyUs: await measure(() => launch(empty.handle, 1, 1, 1, 1, 1, 1, 0, s, null, null)),
      fourArgsUs: await measure(() => {
        const a = new BigUint64Array([o]);
        const b = new BigUint64Array([i]);
        const n = new Uint32Array([16]);
        const f = new Float32Array([2.0]);
        launch(four.handle, 1, 1, 1, 1, 1, 1, 0, s, [a, b, n, f], null);
      }),
    });
  } catch (err) {
    console.error(`plain koffi row failed: ${(err as Error).message}`);
  }
}

let cupy: Record<string, unknown> = { status: 'not run' };
const py = spawnSync('python3', [join(import.meta.dirname ?? 'bench', 'peers/launch_cupy.py'), String(LAUNCHES)], {
  encoding: 'utf8',
  timeout: 120_000,
});
try {
  cupy = JSON.parse(py.stdout.trim().split('\n').pop() ?? '');
} catch {
  cupy = { status: 'failed', reason: (py.stderr || String(py.error ?? '')).trim().split('\n').slice(-3).join(' | ') };
}
if (cupy.status === 'ok')
  rows.push({
    what: `CuPy ${cupy.cupy} RawKernel`,
    emptyUs: cupy.emptyUs as number,
    fourArgsUs: cupy.fourArgsUs as number,
  });

const w = Math.max(...rows.map((r) => r.what.length));
console.log(`launch cost on ${device.properties.name}, mean of ${LAUNCHES} launches (µs per launch, host time)`);
console.log(`${'what'.padEnd(w)}  ${'0 args'.padStart(8)}  ${'4 args'.padStart(8)}`);
for (const r of rows)
  console.log(`${r.what.padEnd(w)}  ${r.emptyUs.toFixed(2).padStart(8)}  ${r.fourArgsUs.toFixed(2).padStart(8)}`);
if (cupy.status !== 'ok') console.log(`CuPy: ${cupy.status}${cupy.reason ? `: ${cupy.reason}` : ''}`);

const result = { bench: 'launch', device: device.properties.name, launches: LAUNCHES, rows, cupy };
const target = process.argv[2] ?? (process.env.OUT ? join(process.env.OUT, 'launch.json') : null);
if (target) writeFileSync(target, `${JSON.stringify(result, null, 2)}\n`);
