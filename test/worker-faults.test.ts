// Worker processes under faults, on a real redis-server: a worker SIGKILLed mid-job (its job
// completes on another, byte-identical, no temporary file left), Redis killed and restarted
// mid-run (every job completes), bad jobs (failed at once with a message, nothing written
// outside --out-root, the worker keeps serving), and user processors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { JobDataError } from '../src/worker/job-data.js';
import { submit } from '../src/worker/submit.js';
import {
  BIN,
  drained,
  killAll,
  listFiles,
  renderAlone,
  skipWorker,
  startRedis,
  startWorker,
  tempDir,
  waitFor,
  whenRunning,
  type TestRedis,
  type TestWorker,
} from './worker-helpers.js';

let redis: TestRedis;
let dir: string;
const workers: TestWorker[] = [];
const queues: Queue[] = [];

before(async () => {
  if (skipWorker) return;
  redis = await startRedis();
  dir = await tempDir('worker-faults');
});

after(async () => {
  if (skipWorker) return;
  await killAll(workers);
  for (const q of queues) await q.close();
  await redis.close();
  await rm(dir, { recursive: true, force: true });
});

async function setup(name: string, count: number, extra: string[] = []) {
  const outRoot = join(dir, name);
  await mkdir(outRoot);
  const queue = new Queue(name, { connection: redis.connection });
  queues.push(queue);
  const mine = Array.from({ length: count }, () => startWorker(redis, name, outRoot, extra));
  workers.push(...mine);
  return { outRoot, queue, workers: mine };
}

// One-frame chunks on a shallow ring: the fake device's kernel bursts stay short (see worker-fleet).
const LONG = { workload: 'fractal', size: '64x48', format: 'rgba', frames: 300, framesPerChunk: 1, depth: 2 } as const;
const LONG_ARGS = [
  '--workload',
  'fractal',
  '--size',
  '64x48',
  '--format',
  'rgba',
  '--frames',
  '300',
  '--frames-per-chunk',
  '1',
  '--depth',
  '2',
];

test(
  'SIGKILL a worker mid-job: the job completes on another, byte-identical, no temporary file left',
  { skip: skipWorker },
  async () => {
    const {
      outRoot,
      queue,
      workers: [a, b],
    } = await setup('kill', 2);
    const ref = join(dir, 'kill-ref.raw');
    renderAlone(LONG_ARGS, ref);
    const job = await submit(queue, { type: 'render', ...LONG, out: 'clips/long.raw' });
    const { pid } = await whenRunning(queue, job.id, 8);
    const victim = [a!, b!].find((w) => w.proc.pid === pid)!;
    const survivor = victim === a ? b! : a!;
    // The killed attempt's temporary output is there now; the next attempt must remove it.
    const during = await readdir(join(outRoot, 'clips'));
    assert.ok(during.some((f) => f.startsWith('.tandem-tmp.')));
    assert.ok(!during.includes('long.raw'), 'the output appears only once complete');
    victim.proc.kill('SIGKILL');
    await victim.exited;
    const result = (await job.done({ timeoutMs: 60_000 })) as { frames: number };
    assert.equal(result.frames, 300);
    const finished = await queue.getJob(job.id);
    assert.equal(
      finished!.processedBy!.split(':')[1],
      String(survivor.proc.pid),
      `completed by the other worker\n${victim.log()}\n${survivor.log()}`,
    );
    assert.deepEqual(await listFiles(outRoot), ['clips/long.raw']);
    assert.ok((await readFile(join(outRoot, 'clips/long.raw'))).equals(await readFile(ref)));
  },
);

test(
  'SIGTERM past --grace: the job is handed back, completes on another worker; the first exits 0',
  { skip: skipWorker },
  async () => {
    const {
      outRoot,
      queue,
      workers: [a, b],
    } = await setup('grace', 2, ['--grace', '0.2']);
    const job = await submit(queue, { type: 'render', ...LONG, out: 'graced.raw' });
    const { pid } = await whenRunning(queue, job.id, 4);
    const first = [a!, b!].find((w) => w.proc.pid === pid)!;
    const other = first === a ? b! : a!;
    first.proc.kill('SIGTERM');
    assert.deepEqual(await first.exited, { code: 0, signal: null });
    assert.match(first.log(), /handed back to the queue/);
    const result = (await job.done({ timeoutMs: 60_000 })) as { frames: number };
    assert.equal(result.frames, 300);
    const finished = (await queue.getJob(job.id))!;
    assert.equal(finished.processedBy!.split(':')[1], String(other.proc.pid));
    assert.equal(finished.attemptsMade, 1, 'handing back is not a failed attempt');
    assert.deepEqual(await listFiles(outRoot), ['graced.raw']);
  },
);

test('Redis killed and restarted mid-run: every job completes', { skip: skipWorker }, async () => {
  const { outRoot, queue } = await setup('restart', 2);
  const params = {
    workload: 'fractal',
    size: '48x32',
    format: 'rgba',
    frames: 24,
    framesPerChunk: 2,
    depth: 2,
  } as const;
  const ref = join(dir, 'restart-ref.raw');
  renderAlone(
    [
      '--workload',
      'fractal',
      '--size',
      '48x32',
      '--format',
      'rgba',
      '--frames',
      '24',
      '--frames-per-chunk',
      '2',
      '--depth',
      '2',
    ],
    ref,
  );
  for (let i = 0; i < 16; i++) await submit(queue, { type: 'render', ...params, out: `r${i}.raw` });
  await waitFor('a few jobs to complete', async () => ((await queue.getCompletedCount()) >= 3 ? true : undefined));
  await redis.kill();
  await new Promise((r) => setTimeout(r, 1000));
  await redis.start();
  const counts = await drained(queue, 90_000);
  assert.equal(counts.completed, 16, JSON.stringify(counts));
  assert.equal(counts.failed, 0);
  const expected = await readFile(ref);
  const files = await listFiles(outRoot);
  assert.deepEqual(files, Array.from({ length: 16 }, (_, i) => `r${i}.raw`).sort());
  for (const f of files) assert.ok((await readFile(join(outRoot, f))).equals(expected), `${f} differs`);
});

test(
  'bad jobs fail at once with a message, nothing is written outside --out-root, the worker keeps serving',
  { skip: skipWorker },
  async () => {
    const outside = join(dir, 'outside');
    await mkdir(outside);
    const { outRoot, queue } = await setup('bad', 1);
    await symlink(outside, join(outRoot, 'escape'));
    const good = { type: 'render', workload: 'fractal', size: '32x32', format: 'rgba', frames: 2 };
    const bad: [string, Record<string, unknown>, RegExp][] = [
      ['unknown type', { type: 'transcode', out: 'a.raw' }, /unknown job type 'transcode'/],
      ['unknown field', { ...good, out: 'b.raw', colour: 'red' }, /unknown field 'colour'/],
      ['frames not a number', { ...good, out: 'c.raw', frames: '2' }, /'frames' must be a number/],
      ['negative frames', { ...good, out: 'c.raw', frames: -1 }, /frames must be a whole number/],
      ['unknown workload', { ...good, out: 'd.raw', workload: 'teapot' }, /unknown workload 'teapot'/],
      ['bad size', { ...good, out: 'e.raw', size: 'big' }, /not WIDTHxHEIGHT/],
      ['oversized frames', { ...good, out: 'f.raw', size: '16000x9000' }, /larger than 7680x4320/],
      ['../ path', { ...good, out: '../outside/g.raw' }, /outside the worker's --out-root/],
      ['absolute path', { ...good, out: join(outside, 'h.raw') }, /outside the worker's --out-root/],
      ['symlink out', { ...good, out: 'escape/i.raw' }, /through a symbolic link/],
      ['symlink out, deeper', { ...good, out: 'escape/new/j.raw' }, /through a symbolic link/],
      ['no extension', { ...good, out: 'k' }, /has no extension/],
      ['frames per chunk', { ...good, out: 'l.raw', framesPerChunk: 0 }, /frames per chunk must be a whole number/],
    ];
    const ids: string[] = [];
    for (const [, data] of bad)
      ids.push(
        (await queue.add(String(data.type ?? 'render'), data, { attempts: 3, backoff: { type: 'fixed', delay: 100 } }))
          .id!,
      );
    const after = await submit(queue, { ...good, type: 'render', out: 'ok/after.raw' });
    await after.done({ timeoutMs: 60_000 });
    await drained(queue);
    for (const [k, [what, , message]] of bad.entries()) {
      const j = (await queue.getJob(ids[k]!))!;
      assert.equal(await j.getState(), 'failed', what);
      assert.match(j.failedReason, message, `${what}: ${j.failedReason}`);
      assert.equal(j.attemptsMade, 1, `${what}: retried`);
    }
    assert.deepEqual(await readdir(outside), [], 'written outside --out-root');
    assert.deepEqual(
      await listFiles(outRoot),
      ['escape', 'ok/after.raw'],
      'only the good job wrote (escape is the symlink)',
    );
    await assert.rejects(submit(queue, { ...good, type: 'render', out: 'x.raw', frames: 0 }), JobDataError);
    await assert.rejects(
      submit(queue, { ...good, type: 'render', out: 'a/../../x.raw' }),
      /outside the worker's --out-root/,
    );
  },
);

test(
  'a --processor job type: data, device, progress and result; a usage error fails without retry',
  { skip: skipWorker },
  async () => {
    const mod = join(dir, 'checksum.mjs');
    await writeFile(
      mod,
      `import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
export const type = 'checksum';
export default async function (data, { device, signal, progress, outRoot }) {
  if (typeof data.text !== 'string') throw Object.assign(new Error('checksum job: give text'), { name: 'UsageError' });
  if (signal.aborted) throw signal.reason;
  let sum = 0;
  for (const c of data.text) sum = (sum * 31 + c.codePointAt(0)) >>> 0;
  progress({ done: 1 });
  await writeFile(join(outRoot, 'sum.txt'), String(sum));
  return { sum, device: device.backend };
}
`,
    );
    const { outRoot, queue } = await setup('custom', 1, ['--processor', mod]);
    const ok = await submit(queue, { type: 'checksum', text: 'tandem' });
    const result = (await ok.done({ timeoutMs: 30_000 })) as { sum: number; device: string; eventLoopDelay: object };
    let sum = 0;
    for (const c of 'tandem') sum = (sum * 31 + c.codePointAt(0)!) >>> 0;
    assert.equal(result.sum, sum);
    assert.equal(result.device, 'fake');
    assert.ok(result.eventLoopDelay);
    assert.equal(await readFile(join(outRoot, 'sum.txt'), 'utf8'), String(sum));
    const bad = await submit(queue, { type: 'checksum' });
    await assert.rejects(bad.done({ timeoutMs: 30_000 }), /give text/);
    assert.equal((await queue.getJob(bad.id))!.attemptsMade, 1);
  },
);

test(
  'done() settles on a finished job even when its QueueEvents never delivers the event',
  { skip: skipWorker },
  async () => {
    const { queue } = await setup('missed', 1);
    // A QueueEvents that never reads the event stream: every completed and failed event is missed,
    // as one that started listening just after the job finished misses it.
    const deaf = new QueueEvents('missed', { connection: redis.connection, autorun: false });
    try {
      const good = { type: 'render', workload: 'fractal', size: '32x32', format: 'rgba', frames: 2, out: 'a.raw' };
      const ok = await submit(queue, good, { events: deaf });
      const result = (await ok.done({ timeoutMs: 20_000 })) as { frames: number };
      assert.equal(result.frames, 2);
      // A bad field that only the worker sees (submit checks render jobs, not a processor's type).
      const bad = await submit(queue, { type: 'transcode' }, { events: deaf });
      await assert.rejects(bad.done({ timeoutMs: 20_000 }), { name: 'JobFailedError', message: /unknown job type/ });
    } finally {
      await deaf.close();
    }
  },
);

test('tandem submit --wait and tandem jobs through the CLI', { skip: skipWorker }, async () => {
  const { outRoot } = await setup('cli', 1);
  const run = (args: string[]) =>
    spawnSync(process.execPath, [BIN, ...args, '--redis', redis.url, '--queue', 'cli'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
  const s = run([
    'submit',
    'render',
    '--workload',
    'fractal',
    '--size',
    '32x32',
    '--format',
    'rgba',
    '--frames',
    '3',
    '--out',
    'a.raw',
    '--wait',
  ]);
  assert.equal(s.status, 0, s.stderr);
  assert.equal(JSON.parse(s.stdout).frames, 3);
  assert.deepEqual(await listFiles(outRoot), ['a.raw']);
  const bad = run(['submit', 'render', '--frames', '3', '--out', 'b.raw', '--size', '3x3']);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /yuv420p needs an even width/);
  const j = run(['jobs', '--json']);
  assert.equal(j.status, 0, j.stderr);
  const listed = JSON.parse(j.stdout) as { counts: Record<string, number>; jobs: { completed: { out: string }[] } };
  assert.equal(listed.counts.completed, 1);
  assert.equal(listed.jobs.completed[0]!.out, 'a.raw');
});
