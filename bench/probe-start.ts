// Where does a 64 MiB cell lose its last 0.3 % to the peers? (experiment, GPU host)
// The peers' walls sit within 0.1 ms of the ideal (first compute + every D2H back to back);
// tandem's traced timelines showed chunk 0's D2H enqueued 0.4-2 ms late and its completion seen
// 1.4 ms late. This probe takes the run apart at its edges:
//  A. D2H into freshly pinned memory: is the first copy into a new buffer slower than the next?
//  B. One NVML utilization read: what it costs the event loop (the bench samples every 20 ms).
//  C. The pipeline at 64 MiB, ratios 0.5 and 1, depths 2, 3, 4, traced, repeated: per run the
//     start (t0 → chunk 0's compute and D2H enqueued, D2H(0) done → seen), the copy engine's gaps,
//     the end (last D2H done → last release), GC pauses inside the run, wall vs the ideal.
//   bash .gpu-host/run.sh node --import tsx bench/probe-start.ts
import { PerformanceObserver } from 'node:perf_hooks';
import { open } from '../src/core/open.js';
import { probeStart } from './probe-cells.js';
import { createPipeline } from '../src/pipeline/index.js';
import { nvmlUtilizationReader } from '../src/profile/nvml-sampler.js';
import { timeD2H } from './d2h-alone.js';
import { calibrateSynthetic, syntheticKernel, syntheticLauncher } from '../src/workloads/synthetic.js';

const MiB = 1024 * 1024;
const log = probeStart('probe');
const SIZE = Number(process.env.SIZE_MIB ?? 64) * MiB;
const N = Number(process.env.N ?? 128);
const DEPTHS = (process.env.DEPTHS ?? '2,3,4').split(',').map(Number);
const RATIOS = (process.env.RATIOS ?? '0.5,1').split(',').map(Number);
const REPEATS = Number(process.env.REPEATS ?? 3);
const table: string[] = [];
const out = (l: string) => {
  log(l);
  table.push(l);
};

await using device = await open(0);

// A. fresh pinned memory.
{
  using s = device.createStream({ label: 'probe' });
  using src = device.allocDevice(SIZE, 'src');
  const ev = Array.from({ length: 7 }, () => device.createEvent({ timing: true }));
  const pins = [0, 1, 2].map((k) => device.allocPinned(SIZE, `fresh ${k}`));
  ev[0]!.record(s);
  // first copy into each fresh buffer, then a second copy into each
  for (let k = 0; k < 6; k++) {
    device.copy(s, pins[k % 3]!, src);
    ev[k + 1]!.record(s);
  }
  await ev[6]!.completion();
  const ms = ev.slice(1).map((e, k) => e.elapsedMs(ev[k]!));
  out(
    `A. D2H ${SIZE / MiB} MiB into fresh pinned buffers: first copies ${ms
      .slice(0, 3)
      .map((x) => x.toFixed(4))
      .join(' ')} ms, second ${ms
      .slice(3)
      .map((x) => x.toFixed(4))
      .join(' ')} ms`,
  );
  for (const p of pins) p.close();
  for (const e of ev) e.close();
}

// B. NVML read cost.
{
  const r = nvmlUtilizationReader(device.properties.pciBusId);
  if (r.read) {
    const t: number[] = [];
    for (let k = 0; k < 200; k++) {
      const a = performance.now();
      r.read();
      t.push(performance.now() - a);
    }
    t.sort((a, b) => a - b);
    out(
      `B. NVML utilization read: median ${(t[100]! * 1000).toFixed(1)} µs, p99 ${(t[198]! * 1000).toFixed(1)} µs, max ${(t[199]! * 1000).toFixed(1)} µs`,
    );
  } else out(`B. NVML: ${r.reason}`);
}

// C. the pipeline's edges.
const gcs: { start: number; duration: number; kind: number }[] = [];
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    gcs.push({
      start: e.startTime,
      duration: e.duration,
      kind: (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0,
    });
});
obs.observe({ entryTypes: ['gc'] });
const { program, kernel } = syntheticKernel(device);
const launch = syntheticLauncher(device, kernel, SIZE);
const cal = await calibrateSynthetic(device, SIZE, RATIOS, { log });
const copyIdeal = (await timeD2H(device, SIZE, N, 2)).reduce((a, b) => Math.min(a, b));
out(`D2H alone ${N} × ${SIZE / MiB} MiB: ${copyIdeal.toFixed(3)} ms`);
const f = (x: number) => x.toFixed(3);
for (const pt of cal.points) {
  for (let r = 0; r < REPEATS; r++) {
    for (const depth of DEPTHS) {
      for (const trace of [false, true]) {
        const pipe = createPipeline(device, {
          outputBytes: SIZE,
          depth,
          trace,
          compute: (c) => launch(c.stream, c.output, null, c.index, pt.iters, 0),
        });
        await pipe.run(4);
        const g0 = gcs.length;
        const t0 = performance.now();
        const st = await pipe.run(N);
        await new Promise((res) => setTimeout(res, 5));
        const inRun = gcs.slice(g0).filter((g) => g.start >= t0 && g.start <= t0 + st.wallMs);
        const gc = `${inRun.length} gc ${f(inRun.reduce((a, g) => a + g.duration, 0))} ms (kinds ${inRun.map((g) => g.kind).join(',') || '-'})`;
        const computeAlone = pt.kernelMs * N;
        const ideal = Math.max(copyIdeal + Math.min(pt.kernelMs, copyIdeal / N), computeAlone + copyIdeal / N);
        if (!trace || !st.timeline) {
          out(
            `ratio ${pt.ratio} d${depth} untraced: wall ${f(st.wallMs)} ms, ideal ${f(ideal)} (+${f(st.wallMs - ideal)}), ${gc}`,
          );
          pipe.close();
          continue;
        }
        const tl = st.timeline;
        const c0 = tl[0]!;
        let gaps = 0;
        let maxGap = 0;
        for (let k = 1; k < tl.length; k++) {
          const g = tl[k]!.copy[0] - tl[k - 1]!.copy[1];
          gaps += Math.max(0, g);
          maxGap = Math.max(maxGap, g);
        }
        const last = tl[tl.length - 1]!;
        const gpuSpan = last.copy[1] - c0.compute[0];
        out(
          `ratio ${pt.ratio} d${depth} traced:   wall ${f(st.wallMs)} ms (+${f(st.wallMs - ideal)} over ideal; GPU span ${f(gpuSpan)}), ` +
            `chunk 0: compute enq→start ${f(c0.compute[0] - c0.enqueuedCompute)}, compute end→D2H enq ${f(c0.enqueuedCopy - c0.compute[1])}, D2H done→seen ${f(c0.sink[0] - c0.copy[1])}; ` +
            `copy gaps ${f(gaps)} ms (max ${f(maxGap)}); end: last D2H done→release ${f(last.sink[1] - last.copy[1])}; ${gc}`,
        );
        pipe.close();
      }
    }
  }
}
obs.disconnect();
program.close();
process.stdout.write(table.join('\n') + '\n');
