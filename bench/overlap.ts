// Overlap efficiency of the pipeline on a real GPU, against the slowest stage run alone.
// For each chunk size (64 MiB, 4 MiB, 1 MiB) × compute/copy ratio (0.5, 1, 2):
//   1. calibrate the synthetic kernel's iters so kernel time = ratio × D2H time of its output;
//   2. time, for the same N chunks and iters, the kernels alone (one stream, back to back) and the
//      D2H copies alone (one stream, into pinned memory), with events: ideal = the slower of the two;
//   3. run the pipeline: serial (once), overlap depth 2, 3, 16 and auto (no trace, no host stage);
//   efficiency = ideal / pipeline wall (host clock, from the first enqueue to the last chunk seen).
// Each repeat measures both references and every variant, interleaved; where the copy can be
// the slowest stage it is re-measured after every run and each run is compared with the copy
// alone measured just before and after it (copy bandwidth drifts, compute time does not).
// Efficiency of a variant = median over repeats of (that run's ideal / that run's wall).
//
// Chunk counts. Even a perfect pipeline pays one chunk of its faster stage outside the
// bottleneck (the first compute when copy-bound, the last copy when compute-bound): the tail.
// Its share, tail / (ideal + tail), caps efficiency at 1 - share; it is printed per cell ('tail'
// column). N is chosen so the share stays below TAIL_SHARE of the cell's gap to its target
// (0.5: the 0.999 compute-bound cells below 0.05%), and so each pipeline run lasts ≥ TARGET_MS.
// Targets: ≥ 0.999 compute-bound, ≥ 0.99 balanced / copy-bound at 64 and 4 MiB, ≥ 0.95 at 1 MiB.
// The 'floor' line: a pipeline of tiny chunks (64 KiB, iters 0) whose GPU work is a few µs, so
// wall / chunks is the per-chunk floor of the host (JS + ~7 driver calls) and the GPU's launch
// and cross-stream event chain together; chunks faster than this cannot be kept fed.
//   bash .gpu-host/run.sh node dist/bench/overlap.js       (OUT=dir writes overlap.json)
// Env: SIZES=64,4,1 (MiB)  RATIOS=0.5,1,2  REPEATS=3  TARGET_MS=400  MAX_CHUNKS=20000
//      DEPTHS=2,3,16,auto  TAIL_SHARE=0.5
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPipeline, driverAvailable, open, type ComputeChunk, type Device, type PipelineStats } from 'tandem';
import { calibrateCost, median, syntheticKernel, syntheticLauncher, timeAlone, type ProbeTiming } from 'tandem/bench';

const MiB = 1024 * 1024;
const SIZES = (process.env.SIZES ?? '64,4,1').split(',').map((s) => Math.round(Number(s) * MiB));
const RATIOS = (process.env.RATIOS ?? '0.5,1,2').split(',').map(Number);
const REPEATS = Number(process.env.REPEATS ?? 3);
const TARGET_MS = Number(process.env.TARGET_MS ?? 400);
const MAX_CHUNKS = Number(process.env.MAX_CHUNKS ?? 20000);
const DEPTHS = (process.env.DEPTHS ?? '2,3,16,auto').split(',').map((d) => (d === 'auto' ? 'auto' : Number(d)));
const TAIL_SHARE = Number(process.env.TAIL_SHARE ?? 0.5);
const log = (l: string) => process.stderr.write(`[overlap] ${l}\n`);

const avail = driverAvailable();
if (!avail.ok) {
  log(`skipped: ${avail.reason}`);
  process.exit(0);
}

interface Cell {
  sizeMiB: number;
  ratio: number;
  iters: number;
  measuredRatio: number;
  chunks: number;
  computeAloneMs: number;
  copyAloneMs: number;
  idealMs: number;
  tailMs: number;
  tailShare: number;
  bound: 'compute' | 'copy';
  target: number;
  runs: Record<string, { wallMs: number; efficiency: number; depth: number; depthReason?: string; all: number[] }>;
}

await using device = await open(0);
const props = device.properties;
log(`${props.name}, ${props.smCount} SMs, ${props.asyncEngineCount} copy engines, pcie ${JSON.stringify(props.pcie)}`);
const { program, kernel } = syntheticKernel(device);

/**
 * GPU time of `n` kernels alone, or `n` D2H copies alone, on one stream: one device buffer (the
 * copies into two pinned ones in turn), 3 warm-up chunks, events around the chunks.
 */
async function alone(dev: Device, bytes: number, iters: number, n: number, what: 'compute' | 'copy'): Promise<number> {
  const launch = syntheticLauncher(dev, kernel, bytes);
  const stage =
    what === 'copy' ? 'copy' : (c: ComputeChunk<number>) => launch(c.stream, c.output, null, c.index, iters, 0);
  const [ms] = await timeAlone(dev, stage, {
    chunkBytes: bytes,
    chunks: n,
    buffers: 1,
    pinned: 2,
    warmup: 3,
    start: 'idle',
  });
  return ms;
}

/** The calibration's probes: one chunk from an idle stream, the median of 7 after a warm-up. */
const PROBE: ProbeTiming = { chunks: 1, buffers: 1, warmup: 1, repeats: 7, start: 'idle' };

async function pipelineRun(
  dev: Device,
  bytes: number,
  iters: number,
  n: number,
  mode: 'serial' | 'overlap',
  depth: number | 'auto',
): Promise<PipelineStats> {
  const launch = syntheticLauncher(dev, kernel, bytes);
  const pipe = createPipeline(dev, {
    outputBytes: bytes,
    mode,
    depth,
    label: `bench ${mode} ${depth}`,
    compute: (c) => launch(c.stream, c.output, null, c.index, iters, 0),
  });
  return pipe.run(n);
}

const cells: Cell[] = [];
const started = performance.now();
const variants: [string, 'serial' | 'overlap', number | 'auto'][] = [
  ['serial', 'serial', 1],
  ...DEPTHS.map((d) => [d === 'auto' ? 'auto' : `d${d}`, 'overlap', d] as [string, 'overlap', number | 'auto']),
];
const overlapNames = variants.slice(1).map((v) => v[0]);

// The per-chunk floor: GPU work of a few µs per chunk (see the header).
const hostProbe: Record<string, number> = {};
{
  const bytes = 64 * 1024;
  const n = 20000;
  await pipelineRun(device, bytes, 0, 500, 'overlap', 2);
  for (const d of [2, 16]) {
    const us: number[] = [];
    for (let r = 0; r < REPEATS; r++)
      us.push(((await pipelineRun(device, bytes, 0, n, 'overlap', d)).wallMs / n) * 1000);
    hostProbe[`d${d}`] = median(us);
  }
  log(
    `per-chunk floor (64 KiB chunks, iters 0, ${n} chunks, median of ${REPEATS}): ${Object.entries(hostProbe)
      .map(([k, v]) => `${k} ${v.toFixed(2)} µs`)
      .join(', ')}`,
  );
}

// PROBE=1: only the floor probe above, D2H bandwidth per pinned buffer (is the spread of
// 'copy alone' between repeats the buffer's placement or the moment?) and D2H bandwidth from
// data in and out of L2, then exit.
if (process.env.PROBE) {
  const bytes = 64 * MiB;
  using s = device.createStream({ label: 'probe' });
  using a = device.createEvent({ timing: true });
  using b = device.createEvent({ timing: true });
  using out = device.allocDevice(bytes, 'probe out');
  const bufs = Array.from({ length: 6 }, (_, k) => device.allocPinned(bytes, `probe pinned ${k}`));
  for (let round = 0; round < 3; round++) {
    const gbs: string[] = [];
    for (const p of bufs) {
      device.copy(s, p, out);
      a.record(s);
      for (let k = 0; k < 10; k++) device.copy(s, p, out);
      b.record(s);
      await b.completion();
      gbs.push(((10 * bytes) / (b.elapsedMs(a) / 1000) / 1e9).toFixed(1));
    }
    log(`D2H GB/s per pinned buffer (64 MiB × 10), round ${round}: ${gbs.join(' ')}`);
  }
  // Does a D2H of data long out of L2 (the ring's device buffers written `depth` chunks ago)
  // run slower than one of a buffer just read (what 'copy alone' measures)? 4 MiB copies, round
  // robin over k device buffers: k × 4 MiB against the GPU's L2.
  {
    const b4 = 4 * MiB;
    const devs = Array.from({ length: 16 }, (_, k) => device.allocDevice(b4, `probe dev ${k}`));
    const pin = device.allocPinned(b4, 'probe pinned 4');
    for (const k of [1, 3, 8, 16]) {
      const t: number[] = [];
      for (let round = 0; round < 3; round++) {
        for (let j = 0; j < 16; j++) device.copy(s, pin, devs[j % k]!);
        a.record(s);
        for (let j = 0; j < 400; j++) device.copy(s, pin, devs[j % k]!);
        b.record(s);
        await b.completion();
        t.push(b.elapsedMs(a));
      }
      log(
        `D2H 4 MiB × 400 round robin over ${k} device buffers: ${t.map((x) => `${((400 * b4) / (x / 1000) / 1e9).toFixed(2)} GB/s`).join(', ')}`,
      );
    }
    for (const x of devs) x.close();
    pin.close();
  }
  for (const p of bufs) p.close();
  program.close();
  process.exit(0);
}

for (const bytes of SIZES) {
  const launch = syntheticLauncher(device, kernel, bytes);
  let costNow = 0;
  const cal = await calibrateCost(
    device,
    {
      compute: (c) => launch(c.stream, c.output, null, c.index, costNow, 0),
      setCost: (cost) => void (costNow = cost),
    },
    { chunkBytes: bytes, ratios: RATIOS, search: { kind: 'line' }, probe: PROBE, log },
  );
  const copyMs = cal.copyMsPerChunk;
  // Warm the pipeline path (JIT, pinned allocation paths) once per size.
  await pipelineRun(device, bytes, cal.points[0]!.cost, 8, 'overlap', 2);
  for (const pt of cal.points) {
    const perChunk = Math.max(pt.computeMsPerChunk, copyMs);
    const target = bytes <= 1 * MiB ? 0.95 : pt.ratio > 1 ? 0.999 : 0.99;
    // Tail share ≈ faster stage's one chunk / (N × slower stage's): keep it ≤ TAIL_SHARE × (1 − target).
    const forTail = Math.min(pt.computeMsPerChunk, copyMs) / (perChunk * TAIL_SHARE * (1 - target));
    const chunks = Math.max(16, Math.min(MAX_CHUNKS, Math.ceil(Math.max(TARGET_MS / perChunk, forTail))));
    const cell: Cell = {
      sizeMiB: bytes / MiB,
      ratio: pt.ratio,
      iters: pt.cost,
      measuredRatio: pt.measuredRatio,
      chunks,
      computeAloneMs: 0,
      copyAloneMs: 0,
      idealMs: 0,
      tailMs: 0,
      tailShare: 0,
      bound: 'copy',
      target: 0,
      runs: {},
    };
    const computeAlone: number[] = [];
    const copyAlone: number[] = [];
    const walls: Record<string, PipelineStats[]> = {};
    const ideals: Record<string, number[]> = {};
    // Copy bandwidth drifts between runs on some hosts (copy alone varied 47-54 GB/s at 64 MiB
    // within a minute), compute time does not (±0.1%). Where the copy can be the slowest stage,
    // it is measured again after every pipeline run, and that run's ideal uses the mean of the
    // copy alone just before and just after it.
    const copyMatters = copyMs >= 0.8 * pt.computeMsPerChunk;
    for (let r = 0; r < REPEATS; r++) {
      const c = await alone(device, bytes, pt.cost, chunks, 'compute');
      computeAlone.push(c);
      let before = await alone(device, bytes, pt.cost, chunks, 'copy');
      copyAlone.push(before);
      for (const [name, mode, depth] of variants) {
        if (mode === 'serial' && r > 0) continue; // a reference point, not a target: once is enough
        const st = await pipelineRun(device, bytes, pt.cost, chunks, mode, depth);
        (walls[name] ??= []).push(st);
        let copy = before;
        if (copyMatters) {
          const after = await alone(device, bytes, pt.cost, chunks, 'copy');
          copyAlone.push(after);
          copy = (before + after) / 2;
          before = after;
        }
        (ideals[name] ??= []).push(Math.max(c, copy));
      }
    }
    cell.computeAloneMs = median(computeAlone);
    cell.copyAloneMs = median(copyAlone);
    cell.idealMs = Math.max(cell.computeAloneMs, cell.copyAloneMs);
    cell.bound = cell.computeAloneMs >= cell.copyAloneMs ? 'compute' : 'copy';
    cell.tailMs = Math.min(cell.computeAloneMs, cell.copyAloneMs) / chunks;
    cell.tailShare = cell.tailMs / (cell.idealMs + cell.tailMs);
    cell.target = bytes <= 1 * MiB ? 0.95 : cell.bound === 'compute' && pt.ratio > 1 ? 0.999 : 0.99;
    for (const [name] of variants) {
      const sts = walls[name]!;
      const all = sts.map((s, k) => ideals[name]![k]! / s.wallMs);
      cell.runs[name] = {
        wallMs: median(sts.map((s) => s.wallMs)),
        efficiency: median(all),
        depth: sts[0]!.depth,
        depthReason: sts[0]!.depthReason,
        all,
      };
    }
    cells.push(cell);
    const e = (k: string) =>
      `${k === 'auto' ? `auto(${cell.runs.auto!.depth})` : k} ${cell.runs[k]!.efficiency.toFixed(4)} [${cell.runs[k]!.all.map((x) => x.toFixed(4)).join(' ')}]`;
    log(
      `${cell.sizeMiB} MiB ratio ${pt.ratio} (measured ${pt.measuredRatio.toFixed(2)}) × ${chunks}: ` +
        `compute alone ${cell.computeAloneMs.toFixed(1)} ms [${computeAlone.map((x) => x.toFixed(1)).join(' ')}], ` +
        `copy alone ${cell.copyAloneMs.toFixed(1)} ms [${copyAlone.map((x) => x.toFixed(1)).join(' ')}], ` +
        `tail ${(cell.tailShare * 100).toFixed(3)}% → ${variants.map(([k]) => e(k)).join(', ')}`,
    );
    if (cell.runs.auto?.depthReason) log(`  ${cell.runs.auto.depthReason}`);
  }
}
program.close();

const pad = (s: string | number, n: number) => String(s).padStart(n);
const lines = [
  `overlap efficiency = (slowest stage alone, same chunks) / (pipeline wall), median over ${REPEATS} repeats (serial: 1 run); ${props.name}`,
  `tail = the faster stage's one chunk as a share of ideal + tail: the most a perfect pipeline loses (efficiency ≤ 1 − tail)`,
  `per-chunk floor (64 KiB chunks, iters 0): ${Object.entries(hostProbe)
    .map(([k, v]) => `${k} ${v.toFixed(2)} µs`)
    .join(', ')}`,
  `${pad('chunk', 7)} ${pad('ratio', 5)} ${pad('iters', 6)} ${pad('chunks', 6)} ` +
    `${pad('compute', 8)} ${pad('copy', 8)} ${pad('bound', 7)} ${pad('tail%', 6)} ${pad('serial', 6)} ` +
    overlapNames.map((k) => pad(k, k === 'auto' ? 11 : 7)).join(' ') +
    ` ${pad('target', 6)} best`,
];
for (const c of cells) {
  const best = Math.max(...overlapNames.map((k) => c.runs[k]!.efficiency));
  lines.push(
    `${pad(`${c.sizeMiB} MiB`, 7)} ${pad(c.ratio, 5)} ${pad(c.iters, 6)} ${pad(c.chunks, 6)} ` +
      `${pad(c.computeAloneMs.toFixed(1), 8)} ${pad(c.copyAloneMs.toFixed(1), 8)} ${pad(c.bound, 7)} ` +
      `${pad((c.tailShare * 100).toFixed(3), 6)} ${pad(c.runs.serial!.efficiency.toFixed(3), 6)} ` +
      overlapNames
        .map((k) =>
          k === 'auto'
            ? pad(`${c.runs.auto!.efficiency.toFixed(4)} (${c.runs.auto!.depth})`, 11)
            : pad(c.runs[k]!.efficiency.toFixed(4), 7),
        )
        .join(' ') +
      ` ${pad(c.target, 6)} ${best >= c.target ? 'ok' : 'MISS'}${c.runs.auto && c.runs.auto.efficiency < c.target ? ' (auto MISS)' : ''}`,
  );
}
console.log(lines.join('\n'));
log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);

const outDir = process.env.OUT;
if (outDir) {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'overlap.json');
  writeFileSync(
    file,
    JSON.stringify({ device: props, repeats: REPEATS, hostProbeUsPerChunk: hostProbe, cells }, null, 2),
  );
  log(`wrote ${file}`);
}
