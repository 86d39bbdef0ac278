// Throughput of the multi-device pipeline: N GPUs against one, and what limits it.
// For each compute/copy ratio (synthetic kernel calibrated on device 0, chunks of SIZE_MIB):
//   - one device through the single-device pipeline (the baseline), and through the
//     multi-device pipeline with one entry (the cost of dealing and reordering);
//   - with several GPUs: the first k devices for k = 2, 4, 8 … N: scaling = thr(k) / (k × thr(1)),
//     target ≥ 0.95 until the host's PCIe or the sink is the bottleneck, which a traced run names;
//     plus copies alone on k devices at once (iters 0, no kernel cost) for the host's aggregate
//     D2H bandwidth against k × one card's;
//   - with one GPU: two pipelines on the same device. This is NOT the several-GPU measurement:
//     both share one compute engine and one D2H engine, so the best it can show is ≈ 1 × one
//     pipeline (it measures the multi layer's overhead and that nothing deadlocks or idles).
// Headline figures come from untraced runs (timing events perturb); the verdict from a traced one.
//   bash .gpu-host/run.sh node dist/bench/multi.js        (OUT=dir writes multi.json)
// Env: DEVICES=all|2|0,1  SIZE_MIB=16  RATIOS=0.5,1,2  DEPTH=3  REPEATS=3  TARGET_MS=500
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  closeDevices,
  createMultiPipeline,
  createPipeline,
  driverAvailable,
  openDevices,
  parseDevicesSpec,
  type Device,
  type MultiPipelineStats,
  type Program,
} from 'tandem';
import { FakeDevice } from 'tandem/testing';
import { calibrateCost, median, syntheticKernel, syntheticLauncher } from 'tandem/bench';

const MiB = 1024 * 1024;
const SIZE = Math.round(Number(process.env.SIZE_MIB ?? 16) * MiB);
const RATIOS = (process.env.RATIOS ?? '0.5,1,2').split(',').map(Number);
const DEPTH = Number(process.env.DEPTH ?? 3);
const REPEATS = Number(process.env.REPEATS ?? 3);
const TARGET_MS = Number(process.env.TARGET_MS ?? 500);
const log = (l: string) => process.stderr.write(`[multi] ${l}\n`);

// FAKE=n: a dry run of this script on n fake devices (checks the script, measures nothing real).
const FAKE = Number(process.env.FAKE ?? 0);
const avail = driverAvailable();
if (!avail.ok && !FAKE) {
  log(`skipped: ${avail.reason}`);
  process.exit(0);
}

const devices: Device[] = FAKE
  ? Array.from(
      { length: FAKE },
      (_, k) => new FakeDevice({ ordinal: k, name: 'fake device (dry run, figures mean nothing)' }),
    )
  : await openDevices(parseDevicesSpec(process.env.DEVICES ?? 'all'));
const gpus = devices.length;
log(
  `${gpus} GPU(s): ${devices.map((d) => `${d.ordinal} ${d.properties.name} pcie ${JSON.stringify(d.properties.pcie)}`).join('; ')}`,
);
if (gpus === 1)
  log('one GPU: measuring two pipelines on the same device (the multi-layer overhead), not N-GPU scaling');

const programs: Program[] = [];
const launchers = new Map<Device, ReturnType<typeof syntheticLauncher>>();
for (const d of devices) {
  const { program, kernel } = syntheticKernel(d);
  programs.push(program);
  launchers.set(d, syntheticLauncher(d, kernel, SIZE));
}

async function single(iters: number, n: number): Promise<number> {
  const d = devices[0]!;
  const launch = launchers.get(d)!;
  const st = await createPipeline(d, {
    outputBytes: SIZE,
    depth: DEPTH,
    compute: (c) => launch(c.stream, c.output, null, c.index, iters, 0),
  }).run(n);
  return st.wallMs;
}

async function multi(list: Device[], iters: number, n: number, trace = false): Promise<MultiPipelineStats> {
  return createMultiPipeline(list, {
    outputBytes: SIZE,
    depth: DEPTH,
    trace,
    label: `bench ×${list.length}`,
    compute: (c) => launchers.get(c.device)!(c.stream, c.output, null, c.index, iters, 0),
  }).run(n);
}

interface Row {
  ratio: number;
  iters: number;
  chunksPerDevice: number;
  config: string;
  pipelines: number;
  gpus: number;
  chunksPerSecond: number;
  /** thr / (gpus × one device's thr through the single pipeline). */
  scaling: number;
  target: number | null;
  bottleneck: string;
}

const rows: Row[] = [];
const started = performance.now();
let costNow = 0;
const cal = await calibrateCost(
  devices[0]!,
  {
    compute: (c) => launchers.get(devices[0]!)!(c.stream, c.output, null, c.index, costNow, 0),
    setCost: (cost) => void (costNow = cost),
  },
  {
    chunkBytes: SIZE,
    ratios: RATIOS,
    search: { kind: 'line' },
    // One chunk from an idle stream, the median of 7 after a warm-up.
    probe: { chunks: 1, buffers: 1, warmup: 1, repeats: 7, start: 'idle' },
    log,
  },
);
const ks = [...new Set([2, 4, 8, gpus].filter((k) => k >= 2 && k <= gpus))];
const points = [...cal.points, { ratio: 0, cost: 0, computeMsPerChunk: 0 }];
for (const pt of points) {
  const perChunk = Math.max(pt.computeMsPerChunk, cal.copyMsPerChunk);
  const n = Math.max(32, Math.round(TARGET_MS / perChunk));
  await single(pt.cost, 8); // warm
  const baseWalls: number[] = [];
  for (let r = 0; r < REPEATS; r++) baseWalls.push(await single(pt.cost, n));
  const base = median(baseWalls);
  const thr1 = n / (base / 1000);
  const label = pt.ratio === 0 ? 'copies alone' : `ratio ${pt.ratio}`;
  rows.push({
    ratio: pt.ratio,
    iters: pt.cost,
    chunksPerDevice: n,
    config: 'single pipeline',
    pipelines: 1,
    gpus: 1,
    chunksPerSecond: thr1,
    scaling: 1,
    target: null,
    bottleneck: '',
  });
  const configs: [string, Device[], number][] = [['multi ×1', [devices[0]!], 1]];
  if (gpus === 1) configs.push(['same GPU ×2', [devices[0]!, devices[0]!], 1]);
  for (const k of ks) configs.push([`${k} GPUs`, devices.slice(0, k), k]);
  for (const [name, list, g] of configs) {
    const total = n * list.length;
    await multi(list, pt.cost, Math.min(total, 16)); // warm
    const walls: number[] = [];
    for (let r = 0; r < REPEATS; r++) walls.push((await multi(list, pt.cost, total)).wallMs);
    const thr = total / (median(walls) / 1000);
    const traced = await multi(list, pt.cost, total, true);
    const scaling = thr / (g * thr1);
    const target = g > 1 ? 0.95 : name === 'multi ×1' ? 0.98 : null;
    rows.push({
      ratio: pt.ratio,
      iters: pt.cost,
      chunksPerDevice: n,
      config: name,
      pipelines: list.length,
      gpus: g,
      chunksPerSecond: thr,
      scaling,
      target,
      bottleneck: traced.bottleneck.reason,
    });
    log(
      `${label} ${name}: ${thr.toFixed(1)} chunks/s (${((thr * SIZE) / 1e9).toFixed(2)} GB/s), ` +
        `${scaling.toFixed(3)} × ${g} × one; shares ${traced.perDevice.map((d) => d.chunks).join('/')}; ` +
        `${traced.bottleneck.reason}`,
    );
  }
}
for (const p of programs) p.close();
closeDevices(devices);

const pad = (s: string | number, w: number) => String(s).padStart(w);
const lines = [
  `multi-device throughput, ${SIZE / MiB} MiB chunks, depth ${DEPTH}, median of ${REPEATS}; ` +
    `${gpus} × ${devices[0]!.properties.name}` +
    `${gpus === 1 ? ' (one GPU: two pipelines share it; NOT the N-GPU scaling)' : ''}`,
  `${pad('ratio', 12)} ${pad('config', 16)} ${pad('chunks/s', 10)} ${pad('GB/s', 7)} ${pad('scaling', 8)} ${pad('target', 6)}  bottleneck (traced run)`,
];
for (const r of rows) {
  const ok = r.target === null ? '' : r.scaling >= r.target ? ' ok' : ' MISS';
  lines.push(
    `${pad(r.ratio === 0 ? 'copy alone' : r.ratio, 12)} ${pad(r.config, 16)} ${pad(r.chunksPerSecond.toFixed(1), 10)} ` +
      `${pad(((r.chunksPerSecond * SIZE) / 1e9).toFixed(2), 7)} ${pad(r.scaling.toFixed(3), 8)} ` +
      `${pad(r.target ?? '-', 6)}${ok}  ${r.bottleneck}`,
  );
}
console.log(lines.join('\n'));
log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);

const outDir = process.env.OUT;
if (outDir) {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'multi.json');
  writeFileSync(
    file,
    JSON.stringify(
      {
        gpus,
        devices: devices.map((d) => d.properties),
        sizeBytes: SIZE,
        depth: DEPTH,
        repeats: REPEATS,
        calibration: cal,
        rows,
      },
      null,
      2,
    ),
  );
  log(`wrote ${file}`);
}
