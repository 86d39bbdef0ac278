// Where do copy-bound small chunks lose their last percent, and would a second copy stream win it
// back? (experiment, GPU host). Everything enqueued up front, no host in the loop:
//  1. D2H alone: N copies back to back on one stream (the ideal the bench divides by).
//  2. D2H with the pipeline's per-copy event traffic: wait on an event already complete, copy,
//     record an event. The difference to 1 is the copy engine's bubble per chunk.
//  3. The same on two copy streams taken in turn.
//  4. The pipeline's barrier structure (compute ↔ copy, barriers 1 and 2 as event waits) with one
//     and with two copy streams, at the depths asked for.
//   bash .gpu-host/run.sh node --import tsx bench/probe-copy-streams.ts
// Env: MIB=4  N=2048  DEPTHS=3,6  RATIOS=0.5,1  REPEATS=3
import { open } from '../src/core/open.js';
import { probeStart } from './probe-cells.js';
import type { Event, Stream } from '../src/core/types.js';
import { median } from '../src/util/median.js';
import { calibrateSynthetic, syntheticKernel, syntheticLauncher } from '../src/workloads/synthetic.js';

const MiB = 1024 * 1024;
const log = probeStart('copy-streams');
const N = Number(process.env.N ?? 2048);
const bytes = Number(process.env.MIB ?? 4) * MiB;
const DEPTHS = (process.env.DEPTHS ?? '3,6').split(',').map(Number);
const RATIOS = (process.env.RATIOS ?? '0.5,1').split(',').map(Number);
const REPEATS = Number(process.env.REPEATS ?? 3);
const MAX = 16;

await using device = await open(0);
const { program, kernel } = syntheticKernel(device);
const launch = syntheticLauncher(device, kernel, bytes);
const cal = await calibrateSynthetic(device, bytes, RATIOS, { log });
const compute = device.createStream({ label: 'compute' });
const copies = [device.createStream({ label: 'copy 0' }), device.createStream({ label: 'copy 1' })];
const start = device.createEvent({ timing: true, label: 'start' });
const end = device.createEvent({ timing: true, label: 'end' });
const joined = device.createEvent({ label: 'joined' });
const outs = Array.from({ length: MAX }, (_, k) => device.allocDevice(bytes, `out ${k}`));
const pins = Array.from({ length: MAX }, (_, k) => device.allocPinned(bytes, `pin ${k}`));
const computed = Array.from({ length: MAX }, (_, k) => device.createEvent({ label: `computed ${k}` }));
const copied = Array.from({ length: MAX }, (_, k) => device.createEvent({ label: `copied ${k}` }));

/** GPU ms from `start` on `first` to every stream in `streams` being done. */
async function timed(first: Stream, streams: Stream[], enqueue: () => void): Promise<number> {
  for (const s of [compute, ...copies]) await s.synchronize();
  start.record(first);
  for (const s of streams) if (s !== first) s.waitEvent(start);
  enqueue();
  const last = streams[0]!;
  for (const s of streams.slice(1)) {
    joined.record(s);
    last.waitEvent(joined);
  }
  end.record(last);
  await end.completion();
  return end.elapsedMs(start);
}

const rows: string[] = [];
const out = (l: string) => {
  log(l);
  rows.push(l);
};
const f = (x: number) => x.toFixed(4);

for (const pt of cal.points) {
  const r = { alone: [] as number[], ev1: [] as number[], ev2: [] as number[], pipe: new Map<string, number[]>() };
  // Every event starts complete, as a finished chunk's would be.
  for (const e of [...computed, ...copied]) e.record(compute);
  for (let rep = 0; rep < REPEATS; rep++) {
    r.alone.push(
      await timed(copies[0]!, [copies[0]!], () => {
        for (let n = 0; n < N; n++) device.copy(copies[0]!, pins[n % 6]!, outs[n % 6]!);
      }),
    );
    for (const k of [1, 2]) {
      const streams = copies.slice(0, k);
      (k === 1 ? r.ev1 : r.ev2).push(
        await timed(streams[0]!, streams, () => {
          for (let n = 0; n < N; n++) {
            const s = streams[n % k]!;
            const i = n % 6;
            s.waitEvent(computed[i]!);
            device.copy(s, pins[i]!, outs[i]!);
            copied[i]!.record(s);
          }
        }),
      );
    }
    for (const depth of DEPTHS) {
      for (const k of [1, 2]) {
        const streams = copies.slice(0, k);
        const ms = await timed(compute, [...streams, compute], () => {
          for (let n = 0; n < N; n++) {
            const i = n % depth;
            const s: Stream = streams[n % k]!;
            if (n >= depth) compute.waitEvent(copied[i]!); // barrier 1
            launch(compute, outs[i]!, null, n, pt.iters, 0);
            (computed[i] as Event).record(compute);
            s.waitEvent(computed[i]!); // barrier 2
            device.copy(s, pins[i]!, outs[i]!);
            copied[i]!.record(s);
          }
        });
        const key = `d${depth} ${k} copy stream${k > 1 ? 's' : ''}`;
        r.pipe.set(key, [...(r.pipe.get(key) ?? []), ms]);
      }
    }
  }
  const ideal = median(r.alone);
  out(
    `ratio ${pt.ratio}: D2H alone ${N} × ${bytes / MiB} MiB ${ideal.toFixed(3)} ms (${r.alone.map((x) => x.toFixed(2)).join(' ')}); ` +
      `with event wait+record per copy: 1 stream ${f(ideal / median(r.ev1))} (+${(((median(r.ev1) - ideal) / N) * 1000).toFixed(2)} µs/copy), 2 streams ${f(ideal / median(r.ev2))}`,
  );
  for (const [key, ms] of r.pipe)
    out(
      `  ratio ${pt.ratio} ${key}: GPU-only efficiency ${f(ideal / median(ms))} (walls ${ms.map((x) => x.toFixed(2)).join(' ')})`,
    );
}
for (const x of [...outs, ...pins, ...computed, ...copied, start, end, joined, compute, ...copies]) x.close();
program.close();
process.stdout.write(rows.join('\n') + '\n');
