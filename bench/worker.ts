// Queue benchmark for `tandem worker` on the fake device: jobs/s with 1, 2 and 4 worker
// processes on one real redis-server, and submit→start latency (job.processedOn − job.timestamp)
// with idle workers. Two job sizes: 'tiny' (one 32x32 frame: the queue's own cost per job) and
// 'small' (twelve 64x48 frames: the fake device's JS kernels, so CPU-bound on this host).
//   npm run build && node dist/bench/worker.js [--workers 1,2,4] [--jobs 120] [--latency-jobs 40]
// Needs redis-server on PATH. Prints a table on stdout; --json FILE writes the figures.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { freePort, waitLine } from './child-processes.js';
import { median } from 'tandem/bench';

const { values: args } = parseArgs({
  options: {
    workers: { type: 'string', default: '1,2,4' },
    jobs: { type: 'string', default: '120' },
    'latency-jobs': { type: 'string', default: '40' },
    json: { type: 'string' },
  },
});
const BIN = fileURLToPath(new URL('../../bin/tandem.js', import.meta.url));
const SIZES = {
  tiny: { workload: 'fractal', size: '32x32', format: 'rgba', frames: 1 },
  small: { workload: 'fractal', size: '64x48', format: 'rgba', frames: 12 },
} as const;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function drained(queue: Queue, total: number): Promise<void> {
  for (;;) {
    const c = await queue.getJobCounts('completed', 'failed');
    if (c.failed) throw new Error(`${c.failed} jobs failed`);
    if (c.completed! >= total) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-worker-'));
const port = await freePort();
// The persistence docs/worker.md recommends: AOF, fsync once a second.
const redis = spawn(
  'redis-server',
  [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
await waitLine(redis, 'stdout', 'Ready to accept connections');
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const rows: Record<string, unknown>[] = [];
try {
  for (const n of args.workers.split(',').map(Number)) {
    const name = `bench${n}`;
    const outRoot = join(dir, name);
    mkdirSync(outRoot);
    const workers = Array.from({ length: n }, () =>
      spawn(
        process.execPath,
        [BIN, 'worker', '--fake', '--redis', `redis://127.0.0.1:${port}`, '--queue', name, '--out-root', outRoot],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      ),
    );
    await Promise.all(workers.map((w) => waitLine(w, 'stderr', 'serving queue')));
    const queue = new Queue(name, { connection });
    let done = 0;
    // One job each first: workloads set up, code paths warm.
    await queue.addBulk(
      workers.map((_, k) => ({ name: 'render', data: { type: 'render', ...SIZES.small, out: `warm${k}.raw` } })),
    );
    await drained(queue, (done += n));
    for (const [label, job] of Object.entries(SIZES)) {
      const count = Number(args.jobs);
      const t0 = Date.now();
      const added = await queue.addBulk(
        Array.from({ length: count }, (_, i) => ({
          name: 'render',
          data: { type: 'render', ...job, out: `${label}/${i}.raw` },
        })),
      );
      await drained(queue, (done += count));
      const jobs = await Promise.all(added.map((j) => queue.getJob(j.id!)));
      const end = Math.max(...jobs.map((j) => j!.finishedOn!));
      rows.push({ workers: n, jobs: label, count, jobsPerS: count / ((end - t0) / 1000) });
    }
    // Latency with idle workers: one job every 100 ms, each taking a few ms.
    const lat: number[] = [];
    const latencyJobs = Number(args['latency-jobs']);
    for (let i = 0; i < latencyJobs; i++) {
      const [j] = await queue.addBulk([
        { name: 'render', data: { type: 'render', ...SIZES.tiny, out: `lat/${i}.raw` } },
      ]);
      await drained(queue, ++done);
      const f = (await queue.getJob(j!.id!))!;
      lat.push(f.processedOn! - f.timestamp);
      await new Promise((r) => setTimeout(r, 100));
    }
    lat.sort((a, b) => a - b);
    rows.push({
      workers: n,
      jobs: 'latency',
      count: latencyJobs,
      p50Ms: median(lat),
      p99Ms: percentile(lat, 99),
      maxMs: lat.at(-1),
    });
    await queue.obliterate({ force: true });
    await queue.close();
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once('exit', r)))));
  }
} finally {
  redis.kill('SIGTERM');
  await new Promise((r) => redis.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}

const host = `${cpus()[0]?.model ?? 'cpu'} (${availableParallelism()} cores), node ${process.version}`;
process.stdout.write(`tandem worker on the fake device, ${host}\n`);
process.stdout.write('workers  jobs     count  jobs/s   submit→start p50 / p99 / max (ms)\n');
for (const r of rows) {
  const rate = r.jobsPerS === undefined ? '' : (r.jobsPerS as number).toFixed(1);
  const lat = r.p50Ms === undefined ? '' : `${r.p50Ms} / ${r.p99Ms} / ${r.maxMs}`;
  process.stdout.write(
    `${String(r.workers).padEnd(9)}${String(r.jobs).padEnd(9)}${String(r.count).padEnd(7)}${rate.padEnd(9)}${lat}\n`,
  );
}
if (args.json) writeFileSync(args.json, `${JSON.stringify({ host, date: new Date().toISOString(), rows }, null, 2)}\n`);
