// `tandem worker --devices 3 --fake`: a supervisor and three worker processes on one real
// redis-server. Sixty render jobs each leave one output, byte for byte what `tandem render`
// writes for the same options alone, and nothing else (no temporary names). SIGTERM to a worker
// in the middle of a job: the job completes on that worker, which then exits 0; SIGTERM to the
// supervisor stops everything with exit 0.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { submit } from '../src/worker/submit.js';
import type { RenderJobData } from '../src/worker/job-data.js';
import {
  drained,
  listFiles,
  renderAlone,
  skipWorker,
  startRedis,
  tempDir,
  waitFor,
  whenRunning,
  workerArgs,
  type TestRedis,
} from './worker-helpers.js';

type Params = Omit<RenderJobData, 'type' | 'out'>;
const SETS: { params: Params; args: string[]; ext: string }[] = [
  {
    params: { workload: 'fractal', size: '64x48', format: 'rgba', frames: 6 },
    args: ['--workload', 'fractal', '--size', '64x48', '--format', 'rgba', '--frames', '6'],
    ext: '.raw',
  },
  {
    params: { workload: 'fractal', size: '48x32', format: 'yuv420p', frames: 9, framesPerChunk: 2 },
    args: [
      '--workload',
      'fractal',
      '--size',
      '48x32',
      '--format',
      'yuv420p',
      '--frames',
      '9',
      '--frames-per-chunk',
      '2',
    ],
    ext: '.raw',
  },
  {
    params: { workload: 'synthetic', size: '32x32', format: 'rgba', frames: 5, cost: 2 },
    args: ['--workload', 'synthetic', '--size', '32x32', '--format', 'rgba', '--frames', '5', '--cost', '2'],
    ext: '.yuv',
  },
];

let redis: TestRedis;
let dir: string;
let outRoot: string;
let queue: Queue;
let supervisor: ReturnType<typeof spawn> | null = null;
let log = '';
let supervisorExit: Promise<number | null>;
const references: Buffer[] = [];

before(async () => {
  if (skipWorker) return;
  redis = await startRedis();
  dir = await tempDir('worker-fleet');
  outRoot = join(dir, 'out');
  await import('node:fs/promises').then((fs) => fs.mkdir(outRoot));
  for (const [k, s] of SETS.entries()) {
    const path = join(dir, `ref${k}${s.ext}`);
    renderAlone(s.args, path);
    references.push(await readFile(path));
  }
  queue = new Queue('fleet', { connection: redis.connection });
  supervisor = spawn(process.execPath, [...workerArgs(redis, 'fleet', outRoot), '--devices', '3'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  supervisor.stderr!.setEncoding('utf8');
  supervisor.stderr!.on('data', (d: string) => (log += d));
  supervisorExit = new Promise((resolve) => supervisor!.once('exit', (code) => resolve(code)));
});

after(async () => {
  if (skipWorker) return;
  if (supervisor && supervisor.exitCode === null && supervisor.signalCode === null) {
    // Its children are in their own process groups: take them down by pid first.
    for (const m of log.matchAll(/worker process (\d+)/g)) {
      try {
        process.kill(Number(m[1]), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    supervisor.kill('SIGKILL');
  }
  await queue?.close();
  await redis.close();
  await rm(dir, { recursive: true, force: true });
});

test(
  '3 worker processes, 60 render jobs: each output once, identical to tandem render alone',
  { skip: skipWorker },
  async () => {
    const jobs = [];
    for (let i = 0; i < 60; i++) {
      const s = SETS[i % SETS.length]!;
      jobs.push(await submit(queue, { type: 'render', ...s.params, out: `set${i % SETS.length}/job${i}${s.ext}` }));
    }
    const counts = await drained(queue, 90_000);
    assert.equal(counts.completed, 60, `completed ${JSON.stringify(counts)}\n${log}`);
    const files = await listFiles(outRoot);
    assert.deepEqual(
      files,
      jobs.map((_, i) => `set${i % SETS.length}/job${i}${SETS[i % SETS.length]!.ext}`).sort(),
      'one file per job and nothing else',
    );
    for (let i = 0; i < 60; i++) {
      const bytes = await readFile(join(outRoot, `set${i % SETS.length}/job${i}${SETS[i % SETS.length]!.ext}`));
      assert.ok(bytes.equals(references[i % SETS.length]!), `job ${i}'s output differs from tandem render's`);
    }
    const done = await Promise.all(jobs.map((j) => queue.getJob(j.id)));
    const workers = new Set(done.map((j) => j!.processedBy));
    assert.equal(workers.size, 3, `jobs ran on ${[...workers].join(', ')}`);
    // Each worker sets up each of the three workload shapes once and keeps it for later jobs.
    const fresh = done.filter((j) => !(j!.returnvalue as { warmKernels: boolean }).warmKernels).length;
    assert.ok(fresh >= SETS.length && fresh <= 3 * SETS.length, `${fresh} jobs set up their kernels`);
    const result = done[0]!.returnvalue as { frames: number; eventLoopDelay: { maxMs: number } };
    assert.equal(result.frames, 6);
    assert.equal(typeof result.eventLoopDelay.maxMs, 'number');
  },
);

test('SIGTERM mid-job: the job completes on that worker, which exits 0', { skip: skipWorker }, async () => {
  const long = await submit(queue, {
    type: 'render',
    workload: 'fractal',
    size: '64x48',
    format: 'rgba',
    frames: 200,
    // The fake device runs every enqueued kernel in one synchronous burst: a shallow ring of
    // one-frame chunks keeps each burst short, so the worker's lock renewals are not held up.
    framesPerChunk: 1,
    depth: 2,
    out: 'long.raw',
  });
  const { job: started, pid } = await whenRunning(queue, long.id, 1);
  process.kill(pid, 'SIGTERM');
  const result = (await long.done({ timeoutMs: 60_000 })) as { frames: number };
  assert.equal(result.frames, 200);
  const finished = await queue.getJob(long.id);
  assert.equal(finished!.processedBy, started.processedBy, 'completed by the worker that got SIGTERM');
  await waitFor('the worker to exit', async () => (log.includes(`worker ${pid} ended (exit 0)`) ? true : undefined));
  assert.equal((await readFile(join(outRoot, 'long.raw'))).byteLength, 64 * 48 * 4 * 200);
});

test('SIGTERM to the supervisor stops every worker, exit 0', { skip: skipWorker }, async () => {
  supervisor!.kill('SIGTERM');
  assert.equal(await supervisorExit, 0, log);
  const pids = [...log.matchAll(/worker process (\d+)/g)].map((m) => Number(m[1]));
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), `worker ${pid} still running`);
});
