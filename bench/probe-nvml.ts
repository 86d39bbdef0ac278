// Does sampling NVML's utilization.gpu during a run (what `tandem bench` does for its NVML column)
// cost the pipeline time? (experiment, GPU host) Each cell runs on one pipeline (its ring comes back from the device pool) after a
// warm-up run, ROUNDS times with the sampler on and ROUNDS times off, alternating; prints the
// median wall and range of each, and how long the NVML calls themselves took.
// Measured (H100, 64 MiB, on a host whose D2H drifted > 1 %): reads took 49 µs (median), 97 µs at
// most; medians on / off 158.11 / 157.79 ms (d4/3, ratio 1), 158.63 / 158.88 (d2), 159.25 /
// 160.62 (d4/3, ratio 0.5): no direction, within that host's drift.
//   bash .gpu-host/run.sh node dist/bench/probe-nvml.js
// Env: SIZE_MIB=64  CELLS=168:auto,168:2,83:auto (kernel iterations:depth)  N=128  ROUNDS=8  INTERVAL_MS=20
import { open } from '../src/core/open.js';
import { probeCells, probeStart } from './probe-cells.js';
import { createPipeline } from '../src/pipeline/index.js';
import { nvmlUtilizationReader, UtilizationSampler } from '../src/profile/nvml-sampler.js';
import { median } from '../src/util/median.js';
import { syntheticKernel, syntheticLauncher } from '../src/workloads/synthetic.js';

const log = probeStart('nvml');
const SIZE = Number(process.env.SIZE_MIB ?? 64) * 1024 * 1024;
const CELLS = probeCells('168:auto,168:2,83:auto');
const N = Number(process.env.N ?? 128);
const ROUNDS = Number(process.env.ROUNDS ?? 8);
const INTERVAL_MS = Number(process.env.INTERVAL_MS ?? 20);

await using device = await open(0);
const reader = nvmlUtilizationReader(device.properties.pciBusId);
if (!reader.read) {
  log(`skipped: ${reader.reason}`);
  process.exit(0);
}
const read = reader.read;
const callMs: number[] = [];
const timedRead = () => {
  const t = performance.now();
  const v = read();
  callMs.push(performance.now() - t);
  return v;
};
const { program, kernel } = syntheticKernel(device);
const launch = syntheticLauncher(device, kernel, SIZE);
const fmt = (xs: number[]) => `${median(xs).toFixed(2)} [${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}]`;
const rows: string[] = [];
for (const cell of CELLS) {
  const pipe = createPipeline(device, {
    outputBytes: SIZE,
    depth: cell.depth,
    compute: (c) => launch(c.stream, c.output, null, c.index, cell.iters, 0),
  });
  await pipe.run(N);
  const on: number[] = [];
  const off: number[] = [];
  let ring = '';
  for (let r = 0; r < 2 * ROUNDS; r++) {
    const sampling = r % 2 === 0;
    const sampler = sampling ? new UtilizationSampler(timedRead, INTERVAL_MS).start() : null;
    const s = await pipe.run(N);
    sampler?.stop();
    (sampling ? on : off).push(s.wallMs);
    ring = s.depth === s.deviceSlots ? `d${s.depth}` : `d${s.depth}/${s.deviceSlots}`;
  }
  pipe.close();
  const line = `iters ${cell.iters} ${ring}: sampler on ${fmt(on)} ms, off ${fmt(off)} ms (median, range of ${ROUNDS})`;
  log(line);
  rows.push(line);
}
const sorted = [...callMs].sort((a, b) => a - b);
const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
rows.push(
  `NVML reads: ${sorted.length}, median ${(pick(0.5) * 1000).toFixed(1)} µs, p99 ${(pick(0.99) * 1000).toFixed(1)} µs, max ${(sorted[sorted.length - 1]! * 1000).toFixed(1)} µs`,
);
program.close();
process.stdout.write(rows.join('\n') + '\n');
