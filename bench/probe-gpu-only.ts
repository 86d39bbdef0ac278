// What the GPU alone can do with the pipeline's barrier structure (experiment, GPU host).
// Every operation of N chunks is enqueued up front, barriers 1 and 2 as GPU-side event waits,
// no host in the loop (barriers 3 and 4 need none: nothing reads the pinned slots). Its wall
// (GPU events around the whole thing) against the slowest stage alone is the ceiling a host-driven
// pipeline can reach; 'kernels + record' isolates what one event record per chunk costs compute.
//   bash .gpu-host/run.sh node --import tsx bench/probe-gpu-only.ts
import { open } from '../src/core/open.js';
import { probeStart } from './probe-cells.js';
import { calibrateSynthetic, syntheticKernel, syntheticLauncher } from '../src/workloads/synthetic.js';

const MiB = 1024 * 1024;
const log = probeStart('gpu-only');
const N = Number(process.env.N ?? 2000);
const bytes = Number(process.env.MIB ?? 4) * MiB;
const DEPTHS = (process.env.DEPTHS ?? '3,16').split(',').map(Number);

await using device = await open(0);
const { program, kernel } = syntheticKernel(device);
const launch = syntheticLauncher(device, kernel, bytes);
const cal = await calibrateSynthetic(device, bytes, [0.5, 1, 2], { log });
const compute = device.createStream({ label: 'compute' });
const copy = device.createStream({ label: 'copy' });
const a = device.createEvent({ timing: true });
const b = device.createEvent({ timing: true });
const a2 = device.createEvent({ timing: true });
const b2 = device.createEvent({ timing: true });
const outs = Array.from({ length: 16 }, (_, k) => device.allocDevice(bytes, `out ${k}`));
const pins = Array.from({ length: 16 }, (_, k) => device.allocPinned(bytes, `pin ${k}`));
const computed = Array.from({ length: 16 }, (_, k) => device.createEvent({ label: `computed ${k}` }));
const copied = Array.from({ length: 16 }, (_, k) => device.createEvent({ label: `copied ${k}` }));

async function timed(enqueue: () => void, s = compute): Promise<number> {
  a.record(s);
  enqueue();
  b.record(s);
  await b.completion();
  return b.elapsedMs(a);
}

const rows: string[] = [];
for (const pt of cal.points) {
  const iters = pt.iters;
  for (let rep = 0; rep < 2; rep++) {
    const kAlone = await timed(() => {
      for (let n = 0; n < N; n++) launch(compute, outs[n % 3]!, null, n, iters, 0);
    });
    const kRecord = await timed(() => {
      for (let n = 0; n < N; n++) {
        launch(compute, outs[n % 3]!, null, n, iters, 0);
        computed[n % 3]!.record(compute);
      }
    });
    const cAlone = await timed(() => {
      for (let n = 0; n < N; n++) device.copy(copy, pins[n & 1]!, outs[0]!);
    }, copy);
    const ideal = Math.max(kAlone, cAlone);
    const cells: string[] = [];
    for (const depth of DEPTHS) {
      // Both streams start idle; a2 on compute and b2 on copy bracket the whole run.
      await compute.synchronize();
      await copy.synchronize();
      a2.record(compute);
      copy.waitEvent(a2);
      for (let n = 0; n < N; n++) {
        const i = n % depth;
        if (n >= depth) compute.waitEvent(copied[i]!); // barrier 1
        launch(compute, outs[i]!, null, n, iters, 0);
        computed[i]!.record(compute);
        copy.waitEvent(computed[i]!); // barrier 2
        device.copy(copy, pins[i]!, outs[i]!);
        copied[i]!.record(copy);
      }
      b2.record(copy);
      await b2.completion();
      const wall = b2.elapsedMs(a2);
      cells.push(`d${depth} ${(ideal / wall).toFixed(4)}`);
    }
    const line = `ratio ${pt.ratio} rep ${rep}: kernels ${((kAlone / N) * 1000).toFixed(2)} µs, +record ${(((kRecord - kAlone) / N) * 1000).toFixed(3)} µs/chunk, copy ${((cAlone / N) * 1000).toFixed(2)} µs → GPU-only efficiency ${cells.join(' ')}`;
    log(line);
    rows.push(line);
  }
}
for (const x of [...outs, ...pins, ...computed, ...copied, a, b, a2, b2, compute, copy]) x.close();
program.close();
process.stdout.write(rows.join('\n') + '\n');
