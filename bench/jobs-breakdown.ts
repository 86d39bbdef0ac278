// Where a short job's time goes, against the loop the jobs bench's peers run: 16 chunks of 4 MiB
// (the jobs bench's smallest cell), a fresh pipeline per job, the ring from the device's pool.
// Per variant, the median of --jobs jobs of: the whole job, createPipeline(), set-up (run() to
// the first compute call), run(), its tail (from the last chunk reaching the host to run()
// returning: the hand-back of the ring), close(), and the host CPU time the job took. The variants:
// 'auto' depth (as the jobs bench), 'auto' with cuMemGetInfo answered from a cache, fixed depths,
// 'auto' traced (its median job's timeline: GPU stages in host time); then the peers' loop written
// on tandem's object model (15 device and 15 pinned buffers from the pool, everything enqueued,
// a wait per chunk), which separates what the pipeline adds from what Node and the driver cost.
// Also the host cost of driver calls: cuEventQuery on a complete event (the pool asks it of its
// fences), cuMemGetInfo, event and stream create; and last the first job after trim() +
// reserve() (the jobs bench's first job) beside jobs after idle time alone (tandem's and the peers'
// loop's) and with the GPU busy just before it, each the median of --jobs / 10; and one traced.
//   bash .gpu-host/run.sh node dist/bench/jobs-breakdown.js [--jobs 200] [--chunk-mib 4] [--chunks 16]
//     [--warm-up 300] [--idle-ms 30]
// With OUT set, writes $OUT/jobs-breakdown.json.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createPipeline, open, type Event, type PipelineOptions, type PipelineStats } from 'tandem';
import { median } from 'tandem/bench';
import { SOAK_SOURCE } from './soak.js';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '200' },
    'chunk-mib': { type: 'string', default: '4' },
    chunks: { type: 'string', default: '16' },
    'warm-up': { type: 'string', default: '300' },
    'idle-ms': { type: 'string', default: '30' },
  },
});
const jobs = Number(args.jobs);
const bytes = Number(args['chunk-mib']) * 1024 * 1024;
const chunks = Number(args.chunks);
const warmUpJobs = Number(args['warm-up']);
const words = bytes / 4;

const device = await open(0);
const kernel = device
  .compile(SOAK_SOURCE, { name: 'soak.cu', kernels: { soak_fill: ['pointer', 'u32', 'u32'] } })
  .getKernel('soak_fill');
const grid = Math.min(Math.ceil(words / 256), device.properties.smCount * 8);
const lines: string[] = [];
const log = (line: string) => {
  lines.push(line);
  console.log(line);
};
const figures: Record<string, unknown> = { device: device.properties.name, bytes, chunks, jobs };

interface JobTimes {
  wall: number;
  create: number;
  setup: number;
  run: number;
  tail: number;
  close: number;
  cpu: number;
  stats: PipelineStats;
}

async function job(options: Partial<PipelineOptions<number>>): Promise<JobTimes> {
  let firstCompute = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const p = createPipeline<number>(device, {
    outputBytes: bytes,
    label: 'job',
    ...options,
    compute: (c) => {
      if (!firstCompute) firstCompute = performance.now();
      kernel.launch(c.stream, { grid, block: 256, writes: [c.output] }, c.output, words, c.index);
    },
  });
  const t1 = performance.now();
  const stats = await p.run(chunks);
  const t2 = performance.now();
  p.close();
  const t3 = performance.now();
  const cpu = process.cpuUsage(c0);
  return {
    wall: t3 - t0,
    create: t1 - t0,
    setup: firstCompute - t1,
    run: t2 - t1,
    tail: t2 - firstCompute - stats.wallMs,
    close: t3 - t2,
    cpu: (cpu.user + cpu.system) / 1000,
    stats,
  };
}

/** A traced run's timeline, a line per chunk (host ms, on performance.now()'s clock). */
function logTimeline(stats: PipelineStats): void {
  const t = (x: number) => x.toFixed(3);
  for (const c of stats.timeline ?? [])
    log(
      `    chunk ${c.index} slot ${c.slot}/${c.deviceSlot ?? c.slot}: enqueued ${t(c.enqueuedCompute)} / ` +
        `${t(c.enqueuedCopy)}, compute ${t(c.compute[0])}–${t(c.compute[1])}, ` +
        `copy ${t(c.copy[0])}–${t(c.copy[1])}, sink ${t(c.sink[0])}–${t(c.sink[1])}`,
    );
}

/** Host µs per call of `f`, over `n` calls. */
function perCall(f: () => void, n = 200): number {
  const t = performance.now();
  for (let i = 0; i < n; i++) f();
  return ((performance.now() - t) / n) * 1000;
}

try {
  device.reserve({ pinnedBytes: 16 * bytes, deviceBytes: 16 * bytes, bufferBytes: bytes });
  const first: number[] = [];
  for (let k = 0; k < 3; k++) first.push((await job({})).wall);
  log(`first jobs in the process after reserve(): ${first.map((x) => x.toFixed(2)).join(', ')} ms`);
  figures.firstJobsMs = first;
  // The variants time warm code, as in a service that has run a while: a process's first jobs run
  // slower while its code is still cold.
  const warm: number[] = [];
  for (let k = 0; k < warmUpJobs; k++) warm.push((await job({})).wall);
  const warmMedian = median(warm);
  log(`${warmUpJobs} warm-up jobs: median ${warmMedian.toFixed(3)} ms`);
  figures.warmUpMedianMs = warmMedian;

  const done = device.createEvent();
  const stream = device.createStream({ label: 'breakdown' });
  done.record(stream);
  await done.completion();
  stream.close();
  const calls = {
    eventQuery: perCall(() => done.isDone(), 1000),
    memoryInfo: perCall(() => device.memoryInfo()),
    createEventClose: perCall(() => device.createEvent().close()),
    createTimingEventClose: perCall(() => device.createEvent({ timing: true }).close()),
    createStreamClose: perCall(() => device.createStream({ label: 'breakdown' }).close(), 50),
  };
  done.close();
  log(
    `host µs per call: cuEventQuery (complete) ${calls.eventQuery.toFixed(2)}, ` +
      `cuMemGetInfo ${calls.memoryInfo.toFixed(1)}, event create+destroy ` +
      `${calls.createEventClose.toFixed(1)} (timing ${calls.createTimingEventClose.toFixed(1)}), ` +
      `stream create+destroy ${calls.createStreamClose.toFixed(1)}`,
  );
  figures.hostMicrosPerCall = calls;

  const variants: [string, Partial<PipelineOptions<number>>, boolean][] = [
    ['auto', {}, false],
    ['auto, cached meminfo', {}, true],
    ['depth 15', { depth: 15 }, false],
    ['depth 15, 15 device', { depth: 15, deviceSlots: 15 }, false],
    ['depth 3', { depth: 3 }, false],
    ['auto, traced', { trace: true }, false],
  ];
  const memoryInfo = device.memoryInfo.bind(device);
  const rows: Record<string, Record<string, number | string>> = {};
  log(
    `${chunks} × ${args['chunk-mib']} MiB, median of ${jobs} jobs (ms): wall, create, set-up, run, tail, close, cpu, ring`,
  );
  for (const [name, options, cached] of variants) {
    const snapshot = memoryInfo();
    device.memoryInfo = cached ? () => snapshot : memoryInfo;
    await job(options);
    await job(options);
    const rs: JobTimes[] = [];
    for (let j = 0; j < jobs; j++) rs.push(await job(options));
    const m = (k: keyof Omit<JobTimes, 'stats'>) => median(rs.map((r) => r[k]));
    const last = rs[rs.length - 1]!.stats;
    rows[name] = {
      wall: m('wall'),
      create: m('create'),
      setup: m('setup'),
      run: m('run'),
      tail: m('tail'),
      close: m('close'),
      cpu: m('cpu'),
      ring: `${last.depth}/${last.deviceSlots}`,
    };
    const r = rows[name];
    const f = (x: number | string) => (typeof x === 'number' ? x.toFixed(3) : x);
    log(
      `  ${name.padEnd(22)} ${f(r.wall!)}  ${f(r.create!)}  ${f(r.setup!)}  ${f(r.run!)}  ${f(r.tail!)}  ${f(r.close!)}  ` +
        `${f(r.cpu!)}  ${r.ring}`,
    );
    if (options.trace) {
      const mid = [...rs].sort((a, b) => a.wall - b.wall)[rs.length >> 1]!;
      logTimeline(mid.stats);
      figures.tracedTimeline = mid.stats.timeline;
    }
  }
  device.memoryInfo = memoryInfo;
  figures.variants = rows;

  // The peers' loop on tandem's object model.
  const ring = Math.min(15, chunks);
  const raw = async (): Promise<number> => {
    const t0 = performance.now();
    const pool = device.pool;
    const cs = pool.acquireStream({ label: 'breakdown compute' });
    const cp = pool.acquireStream({ label: 'breakdown copy' });
    const dev = [];
    const host = [];
    const computed: Event[] = [];
    const copied: Event[] = [];
    for (let k = 0; k < ring; k++) {
      dev.push(pool.acquireDevice(bytes, 'breakdown', cs));
      host.push(pool.acquirePinned(bytes, 'breakdown'));
      computed.push(pool.acquireEvent());
      copied.push(pool.acquireEvent());
    }
    const done: Promise<void>[] = [];
    for (let n = 0; n < chunks; n++) {
      const k = n % ring;
      if (n >= ring) await done[n - ring];
      kernel.launch(cs, { grid, block: 256, writes: [dev[k]!] }, dev[k]!, words, n);
      computed[k]!.record(cs);
      cp.waitEvent(computed[k]!);
      device.copy(cp, host[k]!, dev[k]!);
      copied[k]!.record(cp);
      done.push(copied[k]!.completion());
    }
    for (const d of done) await d;
    const fences = pool.fence([cs, cp]);
    for (const b of [...dev, ...host]) pool.release(b, fences);
    for (const e of [...computed, ...copied, cs, cp]) pool.release(e);
    return performance.now() - t0;
  };
  await raw();
  await raw();
  const rawWalls: number[] = [];
  for (let j = 0; j < jobs; j++) rawWalls.push(await raw());
  figures.peersLoopMs = median(rawWalls);
  log(`  ${"the peers' loop".padEnd(22)} ${median(rawWalls).toFixed(3)}  (ring ${ring}/${ring})`);

  // The first job after trim() + reserve(), as the jobs bench times it, beside what idle time
  // alone does to a job: a warm pool's job straight after the last one, after the host slept
  // --idle-ms, and after it spun that long (the GPU idle either way); the peers' loop likewise;
  // and the first job with the GPU kept busy just before it, on other memory or writing every
  // reserved buffer (a D2H into each pinned one, a memset of each device one). The bench's row is
  // traced once more apart, its timeline logged, to set its copies beside a warm job's.
  const reserved = Math.min(chunks, 16); // as the jobs bench reserves a cell's ring
  const idleMs = Number(args['idle-ms']);
  interface Before {
    trim: boolean;
    idle: 'none' | 'sleep' | 'spin';
    gpu: 'none' | 'other' | 'reserved';
  }
  const pause = async (idle: Before['idle']) => {
    if (idle === 'sleep') await new Promise((r) => setTimeout(r, idleMs));
    else if (idle === 'spin') for (const end = performance.now() + idleMs; performance.now() < end;);
  };
  const firstAfter = async (before: Before, trace = false): Promise<JobTimes> => {
    const pool = device.pool;
    if (before.trim) {
      pool.trim();
      device.reserve({ pinnedBytes: reserved * bytes, deviceBytes: reserved * bytes, bufferBytes: bytes });
    }
    if (before.gpu !== 'none') {
      const s = device.createStream({ label: 'breakdown touch' });
      const scratch = device.allocDevice(bytes, 'breakdown scratch');
      const mine = before.gpu === 'reserved';
      const pinned = mine ? Array.from({ length: reserved }, () => pool.acquirePinned(bytes, 'touch')) : [];
      const dev = mine ? Array.from({ length: reserved }, () => pool.acquireDevice(bytes, 'touch', s)) : [];
      for (const h of pinned) device.copy(s, h, scratch);
      for (const d of dev) device.memset(s, d, 0);
      if (!mine) for (let k = 0; k < 20; k++) kernel.launch(s, { grid, block: 256 }, scratch, words, k);
      await s.synchronize();
      for (const b of [...pinned, ...dev]) pool.release(b);
      scratch.close();
      s.close();
    }
    await pause(before.idle);
    return job(trace ? { trace: true } : {});
  };
  const reps = Math.max(5, Math.round(jobs / 10));
  const firstRows: Record<string, number> = {};
  log(
    `jobs after idle time and the first job after trim() + reserve(), median of ${reps} (ms): wall, set-up, run, tail`,
  );
  const bench: Before = { trim: true, idle: 'none', gpu: 'none' };
  const warmPool: Before = { ...bench, trim: false };
  for (const [name, before] of [
    ['warm pool, straight after', warmPool],
    [`warm pool, ${idleMs} ms asleep`, { ...warmPool, idle: 'sleep' }],
    [`warm pool, ${idleMs} ms spinning`, { ...warmPool, idle: 'spin' }],
    ['as the jobs bench', bench],
    ['GPU busy just before', { ...bench, gpu: 'other' }],
    ['GPU wrote its memory', { ...bench, gpu: 'reserved' }],
  ] as const) {
    const rs: JobTimes[] = [];
    for (let k = 0; k < reps; k++) rs.push(await firstAfter(before));
    const m = (k: 'wall' | 'setup' | 'run' | 'tail') => median(rs.map((r) => r[k])).toFixed(3);
    firstRows[name] = median(rs.map((r) => r.wall));
    log(`  ${name.padEnd(28)} ${m('wall')}  ${m('setup')}  ${m('run')}  ${m('tail')}`);
  }
  for (const idle of ['none', 'sleep'] as const) {
    const walls: number[] = [];
    for (let k = 0; k < reps; k++) {
      await pause(idle);
      walls.push(await raw());
    }
    const name = idle === 'none' ? "the peers' loop, straight after" : `the peers' loop, ${idleMs} ms asleep`;
    firstRows[name] = median(walls);
    log(`  ${name.padEnd(28)} ${median(walls).toFixed(3)}`);
  }
  const traced = await firstAfter(bench, true);
  log(
    `the first job after trim() + reserve(), traced: ${traced.wall.toFixed(3)} ms, ring ${traced.stats.depth}/${traced.stats.deviceSlots}`,
  );
  logTimeline(traced.stats);
  figures.firstAfterTimeline = traced.stats.timeline;
  figures.firstAfterReserveMs = firstRows;
  if (process.env.OUT) writeFileSync(join(process.env.OUT, 'jobs-breakdown.json'), JSON.stringify(figures, null, 2));
} finally {
  device.close();
}
