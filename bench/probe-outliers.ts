// Where does a slow round go? (experiment, GPU host) Some 64 MiB rounds of `tandem bench` run
// 2-5 ms (1-3 %) longer than the others of the same cell, on the same ring. This runs each cell
// ROUNDS times traced on one pipeline (its ring comes back from the device pool) and, for every round more than SLOW_MS over the
// cell's fastest, splits its extra time: the start (first kernel's enqueue to its start), each
// engine's idle time between its chunks by what it waited for (the other engine, or the host
// enqueuing late), and the end (last copy's end to its release).
// Measured (H100, 64 MiB, compute/copy 1, 20 rounds): the slow rounds come in runs of rounds and
// their extra time is spread over the kernels waiting for copies (the copy engine never idled):
// the host's D2H bandwidth drifting, not the pipeline.
//   bash .gpu-host/run.sh node dist/bench/probe-outliers.js
// Env: SIZE_MIB=64  CELLS=168:auto,168:2 (kernel iterations:depth)  N=128  ROUNDS=20  SLOW_MS=1
import { open } from '../src/core/open.js';
import { probeCells, probeStart } from './probe-cells.js';
import { createPipeline } from '../src/pipeline/index.js';
import type { ChunkTiming } from '../src/pipeline/types.js';
import { syntheticKernel, syntheticLauncher } from '../src/workloads/synthetic.js';

probeStart('outliers');
const SIZE = Number(process.env.SIZE_MIB ?? 64) * 1024 * 1024;
const CELLS = probeCells('168:auto,168:2');
const N = Number(process.env.N ?? 128);
const ROUNDS = Number(process.env.ROUNDS ?? 20);
const SLOW_MS = Number(process.env.SLOW_MS ?? 1);
const GAP_MS = 0.02;

interface Split {
  wall: number;
  start: number;
  end: number;
  computeIdle: { waitCopy: number; hostLate: number; other: number };
  copyIdle: { waitCompute: number; hostLate: number; other: number };
  top: string[];
}

/** Idle time of each engine between consecutive chunks, by what the later chunk waited for. */
function split(tl: readonly ChunkTiming[], wall: number): Split {
  const last = tl[tl.length - 1]!;
  const s: Split = {
    wall,
    start: tl[0]!.compute[0] - tl[0]!.enqueuedCompute,
    end: last.sink[1] - last.copy[1],
    computeIdle: { waitCopy: 0, hostLate: 0, other: 0 },
    copyIdle: { waitCompute: 0, hostLate: 0, other: 0 },
    top: [],
  };
  const gaps: { ms: number; what: string }[] = [];
  for (let n = 1; n < tl.length; n++) {
    const c = tl[n]!;
    const p = tl[n - 1]!;
    const kIdle = c.compute[0] - p.compute[1];
    if (kIdle > GAP_MS) {
      // Host late: the kernel was enqueued after the engine went idle.
      const why =
        c.enqueuedCompute > p.compute[1] + GAP_MS
          ? 'hostLate'
          : tl.some((x) => x.index < n && x.copy[1] > p.compute[1] && Math.abs(x.copy[1] - c.compute[0]) < 0.05)
            ? 'waitCopy'
            : 'other';
      s.computeIdle[why] += kIdle;
      gaps.push({
        ms: kIdle,
        what: `kernel ${n} idle ${kIdle.toFixed(3)} ms (${why}; enqueued ${(c.enqueuedCompute - p.compute[1]).toFixed(3)} ms after the previous kernel ended)`,
      });
    }
    const cIdle = c.copy[0] - p.copy[1];
    if (cIdle > GAP_MS) {
      const why =
        c.enqueuedCopy > p.copy[1] + GAP_MS ? 'hostLate' : c.compute[1] > p.copy[1] + GAP_MS ? 'waitCompute' : 'other';
      s.copyIdle[why] += cIdle;
      gaps.push({
        ms: cIdle,
        what: `copy ${n} idle ${cIdle.toFixed(3)} ms (${why}; enqueued ${(c.enqueuedCopy - p.copy[1]).toFixed(3)} ms, its kernel ended ${(c.compute[1] - p.copy[1]).toFixed(3)} ms after the previous copy)`,
      });
    }
  }
  s.top = gaps
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 4)
    .map((g) => g.what);
  return s;
}

const f = (x: number) => x.toFixed(3);
await using device = await open(0);
const { program, kernel } = syntheticKernel(device);
const launch = syntheticLauncher(device, kernel, SIZE);
const out: string[] = [];
for (const cell of CELLS) {
  const pipe = createPipeline(device, {
    outputBytes: SIZE,
    depth: cell.depth,
    trace: true,
    compute: (c) => launch(c.stream, c.output, null, c.index, cell.iters, 0),
  });
  await pipe.run(N);
  const rounds: Split[] = [];
  let ring = '';
  for (let r = 0; r < ROUNDS; r++) {
    const s = await pipe.run(N);
    rounds.push(split(s.timeline!, s.wallMs));
    ring = s.depth === s.deviceSlots ? `d${s.depth}` : `d${s.depth}/${s.deviceSlots}`;
  }
  pipe.close();
  const best = Math.min(...rounds.map((r) => r.wall));
  const summary = (r: Split) =>
    `wall ${f(r.wall)} (+${f(r.wall - best)}): start ${f(r.start)}, end ${f(r.end)}, kernel idle waitCopy ${f(r.computeIdle.waitCopy)} hostLate ${f(r.computeIdle.hostLate)} other ${f(r.computeIdle.other)}, copy idle waitCompute ${f(r.copyIdle.waitCompute)} hostLate ${f(r.copyIdle.hostLate)} other ${f(r.copyIdle.other)}`;
  out.push(`== iters ${cell.iters} ${ring}: walls ${rounds.map((r) => r.wall.toFixed(2)).join(' ')}`);
  const fastest = rounds.find((r) => r.wall === best)!;
  out.push(`  fastest  ${summary(fastest)}`);
  for (const r of rounds.filter((x) => x.wall - best > SLOW_MS)) {
    out.push(`  slow     ${summary(r)}`);
    for (const t of r.top) out.push(`           ${t}`);
  }
}
program.close();
process.stdout.write(out.join('\n') + '\n');
