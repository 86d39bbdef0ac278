// Do young-generation collections cost a 4 MiB pipeline time, and does a larger young generation
// (node --min-semi-space-size / --max-semi-space-size) take that away? (experiment, GPU host)
// Fixed kernel iterations (no calibration, so processes started with different V8 flags run the
// same kernels); each cell runs ROUNDS times on one pipeline (its ring comes back from the device pool) after a warm-up run; prints
// the median wall, its range, and the scavenges (minor GCs) inside the runs. Run it once per set
// of flags, alternating, e.g.:
//   for f in "" "--max-semi-space-size=64 --min-semi-space-size=64"; do
//     bash .gpu-host/run.sh node $f dist/bench/probe-gc.js; done
// Env: SIZE_MIB=4  CELLS=329:2,329:auto,76:2,76:auto (kernel iterations:depth)  N=2048  ROUNDS=5
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { open } from '../src/core/open.js';
import { probeCells, probeStart } from './probe-cells.js';
import { createPipeline } from '../src/pipeline/index.js';
import { median } from '../src/util/median.js';
import { syntheticKernel, syntheticLauncher } from '../src/workloads/synthetic.js';

const log = probeStart('gc');
const SIZE = Number(process.env.SIZE_MIB ?? 4) * 1024 * 1024;
const CELLS = probeCells('329:2,329:auto,76:2,76:auto');
const N = Number(process.env.N ?? 2048);
const ROUNDS = Number(process.env.ROUNDS ?? 5);

const scavenges: { start: number; ms: number }[] = [];
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR)
      scavenges.push({ start: e.startTime, ms: e.duration });
  }
});
obs.observe({ entryTypes: ['gc'] });
const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size / 1024 ** 2;
const flags = process.execArgv.filter((a) => a.includes('semi-space') || a.includes('gc')).join(' ') || 'default';

await using device = await open(0);
const { program, kernel } = syntheticKernel(device);
const launch = syntheticLauncher(device, kernel, SIZE);
const rows: string[] = [];
for (const cell of CELLS) {
  const pipe = createPipeline(device, {
    outputBytes: SIZE,
    depth: cell.depth,
    compute: (c) => launch(c.stream, c.output, null, c.index, cell.iters, 0),
  });
  await pipe.run(N);
  const walls: number[] = [];
  let gcs = 0;
  let gcMs = 0;
  let ring = '';
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    const s = await pipe.run(N);
    await new Promise((res) => setTimeout(res, 2)); // let the observer see the run's collections
    const inRun = scavenges.filter((g) => g.start >= t0 && g.start <= t0 + s.wallMs);
    gcs += inRun.length;
    gcMs += inRun.reduce((a, g) => a + g.ms, 0);
    walls.push(s.wallMs);
    ring = s.depth === s.deviceSlots ? `d${s.depth}` : `d${s.depth}/${s.deviceSlots}`;
  }
  pipe.close();
  const line = `${flags} | iters ${cell.iters} ${ring}: wall ${median(walls).toFixed(2)} ms [${Math.min(...walls).toFixed(2)}–${Math.max(...walls).toFixed(2)}], ${gcs} scavenges in ${ROUNDS} runs (${gcMs.toFixed(2)} ms), new space ${newSpace().toFixed(0)} MiB`;
  log(line);
  rows.push(line);
}
obs.disconnect();
program.close();
process.stdout.write(rows.join('\n') + '\n');
