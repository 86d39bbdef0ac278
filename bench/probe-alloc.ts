// What does a pipeline run allocate per chunk, and where? (experiment)
// Samples every allocation (including objects the GC already collected) with V8's sampling heap
// profiler over one pipeline run, and prints the top allocation sites and the GC pauses.
//   bash .gpu-host/run.sh node --import tsx bench/probe-alloc.ts          (real device)
//   FAKE=1 node --import tsx bench/probe-alloc.ts                           (fake device)
import { Session } from 'node:inspector/promises';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { open } from '../src/core/open.js';
import type { Device } from '../src/core/types.js';
import { createPipeline } from '../src/pipeline/index.js';
import { FakeDevice } from '../src/testing/index.js';
import { syntheticKernel, syntheticLauncher } from '../src/workloads/synthetic.js';

const N = Number(process.env.N ?? 4000);
const DEPTH = Number(process.env.DEPTH ?? 16);
const ITERS = Number(process.env.ITERS ?? 30);
const bytes = Number(process.env.BYTES ?? 4 * 1024 * 1024);
const log = (l: string) => process.stderr.write(`[alloc] ${l}\n`);

const device: Device = process.env.FAKE ? new FakeDevice({ copyEngines: 2 }) : await open(0);
const { program, kernel } = syntheticKernel(device);
const launch = syntheticLauncher(device, kernel, bytes);
const run = (n: number) =>
  createPipeline(device, {
    outputBytes: bytes,
    depth: DEPTH,
    compute: (c) => launch(c.stream, c.output, null, c.index, ITERS, 0),
  }).run(n);
await run(200); // warm: JIT, allocation paths

const gcs: { kind: number; ms: number }[] = [];
const obs = new PerformanceObserver((l) => {
  for (const e of l.getEntries())
    gcs.push({ kind: (e as unknown as { detail: { kind: number } }).detail.kind, ms: e.duration });
});
obs.observe({ entryTypes: ['gc'] });
const session = new Session();
session.connect();
await session.post('HeapProfiler.startSampling', {
  samplingInterval: 256,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
const st = await run(N);
const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: Node } };
await new Promise((r) => setTimeout(r, 10));
obs.disconnect();

interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
}
const sites = new Map<string, number>();
let total = 0;
const walk = (n: Node, stack: string[]) => {
  const f = n.callFrame;
  const name = `${f.functionName || '(anon)'} ${f.url.replace(/^.*\/(src|node_modules|bench)\//, '$1/')}:${f.lineNumber + 1}`;
  const here = [...stack, name];
  if (n.selfSize > 0) {
    total += n.selfSize;
    // Attribute to the innermost frame and its caller (koffi / promise internals show as native).
    const key = here.slice(-3).join(' ← ');
    sites.set(key, (sites.get(key) ?? 0) + n.selfSize);
  }
  for (const c of n.children) walk(c, here);
};
walk(profile.head, []);
const kinds: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
const byKind: Record<string, { n: number; ms: number; max: number }> = {};
for (const g of gcs) {
  const k = (byKind[kinds[g.kind] ?? String(g.kind)] ??= { n: 0, ms: 0, max: 0 });
  k.n++;
  k.ms += g.ms;
  k.max = Math.max(k.max, g.ms);
}
log(`${N} chunks, depth ${DEPTH}, wall ${st.wallMs.toFixed(1)} ms (${((st.wallMs / N) * 1000).toFixed(2)} µs/chunk)`);
log(`sampled allocations: ${(total / 1024).toFixed(0)} KiB = ${(total / N).toFixed(0)} B per chunk`);
for (const [k, v] of Object.entries(byKind))
  log(`gc ${k}: ${v.n} × (total ${v.ms.toFixed(2)} ms, max ${v.ms ? v.max.toFixed(2) : 0} ms)`);
const top = [...sites.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 30));
for (const [k, v] of top) log(`${(v / N).toFixed(0).padStart(6)} B/chunk  ${k}`);
program.close();
await (device as { close(): void | Promise<void> }).close();
