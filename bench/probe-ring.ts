// Where do the 4 MiB copy-bound cells lose their last 1 %? (experiment, GPU host)
//  A. D2H alone, 4 MiB, round robin over k pinned buffers and k device buffers: does the ring's
//     host working set (k × 4 MiB) slow the copy engine down (IOTLB / LLC effects)?
//  B. The pipeline at depths 3, 4, 8, 16 for ratios 0.5 and 1, with GC pauses counted per run.
//   bash .gpu-host/run.sh node --import tsx bench/probe-ring.ts
import { PerformanceObserver } from 'node:perf_hooks';
import { open } from '../src/core/open.js';
import { probeStart } from './probe-cells.js';
import { createPipeline } from '../src/pipeline/index.js';
import { timeD2H } from './d2h-alone.js';
import { calibrateSynthetic, syntheticKernel, syntheticLauncher } from '../src/workloads/synthetic.js';

const MiB = 1024 * 1024;
const log = probeStart('probe');
const N = Number(process.env.N ?? 2000);
const DEPTHS = (process.env.DEPTHS ?? '3,4,8,16').split(',').map(Number);
const REPEATS = Number(process.env.REPEATS ?? 3);
const bytes = 4 * MiB;

await using device = await open(0);
const { program, kernel } = syntheticKernel(device);
const launch = syntheticLauncher(device, kernel, bytes);

// A. copy alone over k buffers.
if (!process.env.SKIP_A) {
  using s = device.createStream({ label: 'probe' });
  using a = device.createEvent({ timing: true });
  using b = device.createEvent({ timing: true });
  const devs = Array.from({ length: 16 }, (_, k) => device.allocDevice(bytes, `dev ${k}`));
  const pins = Array.from({ length: 16 }, (_, k) => device.allocPinned(bytes, `pin ${k}`));
  const rows: Record<string, number[]> = {};
  for (let round = 0; round < 3; round++) {
    for (const k of [1, 2, 3, 4, 8, 16]) {
      for (const which of ['pinned', 'both']) {
        for (let j = 0; j < 16; j++) device.copy(s, pins[j % k]!, devs[which === 'both' ? j % k : 0]!);
        a.record(s);
        for (let j = 0; j < 400; j++) device.copy(s, pins[j % k]!, devs[which === 'both' ? j % k : 0]!);
        b.record(s);
        await b.completion();
        (rows[`${which} k=${k}`] ??= []).push((400 * bytes) / (b.elapsedMs(a) / 1000) / 1e9);
      }
    }
  }
  for (const [k, v] of Object.entries(rows))
    log(`D2H 4 MiB × 400 over ${k.padEnd(12)}: ${v.map((x) => x.toFixed(2)).join(' ')} GB/s`);
  for (const x of [...devs, ...pins]) x.close();
}

// B. pipeline depths with GC accounting.
let gcCount = 0;
let gcMs = 0;
let gcMax = 0;
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcCount++;
    gcMs += e.duration;
    gcMax = Math.max(gcMax, e.duration);
  }
});
obs.observe({ entryTypes: ['gc'] });
const cal = await calibrateSynthetic(device, bytes, [0.5, 1], { log });
const table: string[] = [];
const copyAlone = async () => (await timeD2H(device, bytes, N))[0]!;
for (const pt of cal.points) {
  const copyIdeal = await copyAlone();
  log(`copy alone ${N} × 4 MiB: ${copyIdeal.toFixed(2)} ms (${((copyIdeal / N) * 1000).toFixed(2)} µs each)`);
  const res: Record<number, { wall: number[]; gc: string[] }> = {};
  for (let r = 0; r < REPEATS; r++) {
    for (const depth of DEPTHS) {
      const pipe = createPipeline(device, {
        outputBytes: bytes,
        depth,
        compute: (c) => launch(c.stream, c.output, null, c.index, pt.iters, 0),
      });
      gcCount = 0;
      gcMs = 0;
      gcMax = 0;
      const st = await pipe.run(N);
      await new Promise((r) => setTimeout(r, 5)); // let the observer deliver this run's entries
      const e = (res[depth] ??= { wall: [], gc: [] });
      e.wall.push(st.wallMs);
      e.gc.push(`${gcCount}/${gcMs.toFixed(1)}/${gcMax.toFixed(2)}`);
    }
  }
  for (const depth of DEPTHS) {
    const e = res[depth]!;
    const line = `ratio ${pt.ratio} d${depth}: wall ${e.wall.map((w) => w.toFixed(2)).join(' ')} ms, per chunk ${e.wall.map((w) => ((w / N) * 1000).toFixed(2)).join(' ')} µs (copy alone ${((copyIdeal / N) * 1000).toFixed(2)} µs → eff ${e.wall.map((w) => (copyIdeal / w).toFixed(4)).join(' ')}), gc n/ms/max ${e.gc.join(' ')}`;
    log(line);
    table.push(line);
  }
}
obs.disconnect();
program.close();
process.stdout.write(table.join('\n') + '\n');
