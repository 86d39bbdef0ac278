// Event completion → resolved Promise latency for each Event.completion() strategy
// (src/core/completion/): 'worker' (a worker thread polls cuEventQuery), 'poll' (cuEventQuery
// from the event loop) and 'async' (koffi .async cuEventSynchronize on libuv's thread pool).
// Latency is measured against a reference thread that spins on cuEventQuery for the same event
// and stamps the moment it turns complete (process.hrtime, one clock for all threads).
// Also per strategy: how long an fs call waits while 8 long kernels are awaited (thread-pool
// starvation) and the CPU time the process burns during one 300 ms wait.
//   bash .gpu-host/run.sh node --import tsx bench/event-latency.ts [out.json]
import { readFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

// The reference thread: waits for a sequence number, spins cuEventQuery on the event handle,
// stamps process.hrtime when it completes. Plain JS run with eval so it needs no loader.
const REFERENCE_SOURCE = String.raw`
const { workerData } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const lib = koffi.load(workerData.libraryPath);
const cuCtxSetCurrent = lib.func('int cuCtxSetCurrent(void *ctx)');
const cuEventQuery = lib.func('int cuEventQuery(void *e)');
cuCtxSetCurrent(workerData.ctx);
const seq = new Int32Array(workerData.sab, 0, 2);
const big = new BigInt64Array(workerData.sab, 8, 2);
let last = 0;
for (;;) {
  Atomics.wait(seq, 0, last);
  const want = Atomics.load(seq, 0);
  if (want < 0) break;
  last = want;
  const ev = big[0];
  while (cuEventQuery(ev) === 600);
  big[1] = process.hrtime.bigint();
  Atomics.store(seq, 1, want);
  Atomics.notify(seq, 1);
}
`;

await main();

async function main(): Promise<void> {
  const { driverAvailable, open } = await import('../src/core/open.js');
  const { EVENT_WAIT_STRATEGIES } = await import('../src/core/completion/index.js');
  const { driver } = await import('../src/cuda/driver.js');
  const avail = driverAvailable();
  if (!avail.ok) {
    console.error(`bench/event-latency: skipped: ${avail.reason}`);
    return;
  }
  const SOURCE = `extern "C" __global__ void spin(unsigned long long ns) {
    unsigned long long start, now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now)); } while (now - start < ns);
  }`;
  const ITER = Number(process.env.ITER ?? 600);
  const DURATIONS_NS = [20_000n, 200_000n, 2_000_000n];
  const results: Record<string, unknown>[] = [];

  for (const strategy of EVENT_WAIT_STRATEGIES) {
    await using device = await open(0, { eventWait: strategy });
    using program = device.compile(SOURCE, { name: 'spin.cu', kernels: { spin: ['u64'] } });
    const spin = program.getKernel('spin');
    using stream = device.createStream({ label: 'bench' });
    using event = device.createEvent({ label: 'done' });
    const sab = new SharedArrayBuffer(24);
    const seq = new Int32Array(sab, 0, 2);
    const big = new BigInt64Array(sab, 8, 2);
    const koffiPath = createRequire(import.meta.url).resolve('koffi');
    const ref = new Worker(REFERENCE_SOURCE, {
      eval: true,
      workerData: { koffiPath, libraryPath: driver().libraryPath, ctx: device.context, sab },
    });
    const lat: number[] = [];
    for (let i = 0; i < ITER + 20; i++) {
      spin.launch(stream, { grid: 1, block: 1 }, DURATIONS_NS[i % DURATIONS_NS.length]!);
      event.record(stream);
      big[0] = event.handle;
      Atomics.store(seq, 0, i + 1);
      Atomics.notify(seq, 0);
      await event.completion();
      const resolved = process.hrtime.bigint();
      while (Atomics.load(seq, 1) !== i + 1) Atomics.wait(seq, 1, Atomics.load(seq, 1), 5);
      if (i >= 20) lat.push(Number(resolved - big[1]!) / 1000);
    }
    Atomics.store(seq, 0, -1);
    Atomics.notify(seq, 0);
    await ref.terminate();

    // 8 long kernels awaited at once, and an fs call issued meanwhile.
    const streams = Array.from({ length: 8 }, (_, k) => device.createStream({ label: `s${k}` }));
    const events = streams.map((s) => {
      spin.launch(s, { grid: 1, block: 1 }, 100_000_000n);
      const e = device.createEvent();
      e.record(s);
      return e;
    });
    const waits = Promise.all(events.map((e) => e.completion()));
    await new Promise((r) => setTimeout(r, 5));
    const f0 = performance.now();
    await readFile(new URL(import.meta.url));
    const fsMs = performance.now() - f0;
    await waits;
    for (const x of [...events, ...streams]) x.close();

    // CPU burned by the whole process while awaiting one 300 ms kernel.
    spin.launch(stream, { grid: 1, block: 1 }, 300_000_000n);
    event.record(stream);
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    await event.completion();
    const c1 = process.cpuUsage(c0);
    const wallMs = performance.now() - w0;
    const cpuMs = (c1.user + c1.system) / 1000;

    lat.sort((a, b) => a - b);
    const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!;
    results.push({
      strategy,
      n: lat.length,
      p50Us: q(0.5),
      p90Us: q(0.9),
      p99Us: q(0.99),
      maxUs: lat[lat.length - 1],
      fsCallMsWhile8Pending: fsMs,
      cpuMsPer300msWait: cpuMs,
      wallMs,
    });
  }

  console.log(
    `event completion → resolved promise (µs, vs a spinning reference thread); ${ITER} waits of 20 µs / 200 µs / 2 ms kernels`,
  );
  console.log(
    `${'strategy'.padEnd(8)}  ${'p50'.padStart(7)}  ${'p90'.padStart(7)}  ${'p99'.padStart(7)}  ${'max'.padStart(8)}  ${'fs call, 8 pending'.padStart(19)}  ${'CPU per 300 ms wait'.padStart(20)}`,
  );
  for (const r of results) {
    const n = (k: string, d = 1) => (r[k] as number).toFixed(d);
    console.log(
      `${String(r.strategy).padEnd(8)}  ${n('p50Us').padStart(7)}  ${n('p90Us').padStart(7)}  ${n('p99Us').padStart(7)}  ${n('maxUs').padStart(8)}  ${`${n('fsCallMsWhile8Pending', 2)} ms`.padStart(19)}  ${`${n('cpuMsPer300msWait', 0)} ms`.padStart(20)}`,
    );
  }
  const target = process.argv[2] ?? (process.env.OUT ? join(process.env.OUT, 'event-latency.json') : null);
  if (target)
    writeFileSync(target, `${JSON.stringify({ bench: 'event-latency', iterations: ITER, results }, null, 2)}\n`);
}
