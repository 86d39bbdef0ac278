// Does keeping the ring between runs (keepRing) make a run faster, and by how much? (experiment,
// GPU host). For each cell, rounds alternate: a fresh Pipeline per run (its ring pinned and
// allocated just before, as without keepRing) and one keepRing Pipeline warmed up once. Walls are
// the runs' own (t0 after the ring exists), so what differs is only whether the buffers are new;
// "call" is the whole run() call as the caller waits for it, ring allocation included.
//   bash .gpu-host/run.sh node --import tsx bench/probe-keep-ring.ts
// Env: CELLS=64:0.5,64:1,4:0.5  DEPTHS=2,auto  ROUNDS=7
import { open } from '../src/core/open.js';
import { probeStart } from './probe-cells.js';
import { createPipeline, type PipelineOptions } from '../src/pipeline/index.js';
import { median } from '../src/util/median.js';
import { calibrateSynthetic, syntheticKernel, syntheticLauncher } from '../src/workloads/synthetic.js';

const MiB = 1024 * 1024;
const log = probeStart('keep-ring');
const CELLS = (process.env.CELLS ?? '64:0.5,64:1,4:0.5')
  .split(',')
  .map((c) => c.split(':').map(Number) as [number, number]);
const DEPTHS = (process.env.DEPTHS ?? '2,auto').split(',').map((d) => (d === 'auto' ? 'auto' : Number(d)));
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const TOTAL = 8 * 1024 * MiB;

await using device = await open(0);
const { program, kernel } = syntheticKernel(device);
const rows: string[] = [];
for (const [mib, ratio] of CELLS) {
  const bytes = mib * MiB;
  const chunks = Math.max(64, Math.min(4096, TOTAL / bytes));
  const launch = syntheticLauncher(device, kernel, bytes);
  const cal = await calibrateSynthetic(device, bytes, [ratio], { log });
  const iters = cal.points[0]!.iters;
  for (const depth of DEPTHS) {
    const options: PipelineOptions<number> = {
      outputBytes: bytes,
      depth: depth as number | 'auto',
      compute: (c) => launch(c.stream, c.output, null, c.index, iters, 0),
    };
    const kept = createPipeline(device, { ...options, keepRing: true });
    await kept.run(chunks);
    const fresh: number[] = [];
    const reuse: number[] = [];
    const freshCall: number[] = [];
    const reuseCall: number[] = [];
    let ring = '';
    for (let r = 0; r < ROUNDS; r++) {
      const p = createPipeline(device, options);
      let t = performance.now();
      fresh.push((await p.run(chunks)).wallMs);
      freshCall.push(performance.now() - t);
      p.close();
      t = performance.now();
      const s = await kept.run(chunks);
      reuseCall.push(performance.now() - t);
      reuse.push(s.wallMs);
      ring = s.depth === s.deviceSlots ? `d${s.depth}` : `d${s.depth}/${s.deviceSlots}`;
    }
    kept.close();
    const f = median(fresh);
    const k = median(reuse);
    const line = `${mib} MiB × ${chunks}, ratio ${ratio}, ${ring}: fresh ring ${f.toFixed(2)} ms [${Math.min(...fresh).toFixed(2)}–${Math.max(...fresh).toFixed(2)}], kept ring ${k.toFixed(2)} ms [${Math.min(...reuse).toFixed(2)}–${Math.max(...reuse).toFixed(2)}], kept/fresh ${(k / f).toFixed(4)}; whole run() call ${median(freshCall).toFixed(2)} → ${median(reuseCall).toFixed(2)} ms`;
    log(line);
    rows.push(line);
  }
}
program.close();
process.stdout.write(rows.join('\n') + '\n');
