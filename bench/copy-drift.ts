// Is this host's D2H bandwidth steady enough to measure copy-bound efficiency on? Some hosts' copy
// bandwidth drifts within seconds (docs/benchmarks.md, "Steady hosts only"), which turns a
// copy-bound efficiency into noise. Times the same copies REPEATS times and exits 3 when
// (max − min) / min exceeds MAX_SPREAD, so a bench script can stop before spending GPU time on
// figures that would mean nothing.
//   bash .gpu-host/run.sh node dist/bench/copy-drift.js && bash .gpu-host/run.sh node dist/bench/overlap.js
// Env: MIB=4  N=2000  REPEATS=6  MAX_SPREAD=0.01
import { driverAvailable, open } from 'tandem';
import { timeAlone } from 'tandem/bench';

const MIB = Number(process.env.MIB ?? 4);
const N = Number(process.env.N ?? 2000);
const REPEATS = Number(process.env.REPEATS ?? 6);
const MAX_SPREAD = Number(process.env.MAX_SPREAD ?? 0.01);
const log = (l: string) => process.stderr.write(`[copy-drift] ${l}\n`);

const avail = driverAvailable();
if (!avail.ok) {
  log(`skipped: ${avail.reason}`);
  process.exit(0);
}
const bytes = MIB * 1024 * 1024;
let spread: number;
{
  await using device = await open(0);
  // N copies from one device buffer into two pinned ones in turn, as bench/overlap.ts's copy alone.
  const ms = await timeAlone(device, 'copy', {
    chunkBytes: bytes,
    chunks: N,
    buffers: 1,
    pinned: 2,
    warmup: 3,
    start: 'idle',
    repeats: REPEATS,
  });
  const lo = Math.min(...ms);
  spread = (Math.max(...ms) - lo) / lo;
  const gbs = (x: number) => ((N * bytes) / (x / 1000) / 1e9).toFixed(2);
  log(
    `${device.properties.name}: D2H ${MIB} MiB × ${N}, ${REPEATS} times: ` +
      `${ms.map((x) => `${x.toFixed(1)} ms`).join(' ')} (${gbs(Math.max(...ms))}–${gbs(lo)} GB/s), ` +
      `spread ${(spread * 100).toFixed(2)} %`,
  );
}
if (spread > MAX_SPREAD) {
  log(`spread above ${(MAX_SPREAD * 100).toFixed(1)} %: copy-bound efficiencies measured on this host would be noise`);
  process.exit(3);
}
