// Shared by the worker tests: a real redis-server on 127.0.0.1 at a free port with its own
// directory (AOF with appendfsync always, so a SIGKILL loses nothing), worker processes run
// through the built CLI, and a reference render through `tandem render` alone.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, type ConnectionOptions, type Job } from 'bullmq';
import { freePort } from '../bench/child-processes.js';

function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d;
}
export const ROOT = repoRoot();
export const BIN = join(ROOT, 'bin', 'tandem.js');
const built = existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'));
const haveRedis = spawnSync('redis-server', ['--version']).status === 0;
export const skipWorker = !built
  ? 'the CLI is not built (npm run build)'
  : haveRedis
    ? false
    : 'redis-server is not installed (apt-get install redis-server)';

export const tempDir = (what: string) => mkdtemp(join(tmpdir(), `tandem-${what}-`));

export interface TestRedis {
  port: number;
  url: string;
  connection: ConnectionOptions;
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and directory (the AOF brings the data back). */
  start(): Promise<void>;
  /** Kills the server and removes its directory. */
  close(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const dir = await tempDir('redis');
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const start = async () => {
    const p = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    proc = p;
    p.stdout!.setEncoding('utf8');
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      p.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${seen}`)));
      p.stdout!.on('data', (d: string) => {
        seen += d;
        if (seen.includes('Ready to accept connections')) resolve();
      });
    });
    await redisCli(port, ['config', 'set', 'appendfsync', 'always']);
    p.stdout!.resume();
  };
  const kill = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null },
    kill,
    start,
    async close() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function redisCli(port: number, args: string[]): Promise<void> {
  const { Redis } = await import('ioredis');
  const r = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  try {
    await r.call(args[0]!, ...args.slice(1));
  } finally {
    r.disconnect();
  }
}

export interface TestWorker {
  proc: ChildProcess;
  /** stderr so far. */
  log(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `tandem worker --fake …` on `queue` with quick stall detection (lock 4 s, checked every 0.5 s). */
export function workerArgs(redis: TestRedis, queue: string, outRoot: string): string[] {
  return [
    BIN,
    'worker',
    '--fake',
    '--redis',
    redis.url,
    '--queue',
    queue,
    '--out-root',
    outRoot,
    '--lock-duration',
    '4',
    '--stalled-interval',
    '0.5',
  ];
}

export function startWorker(redis: TestRedis, queue: string, outRoot: string, extra: string[] = []): TestWorker {
  const proc = spawn(process.execPath, [...workerArgs(redis, queue, outRoot), ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let text = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => (text += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, log: () => text, exited };
}

/** Stops what is still running: SIGKILL, then the exit. */
export async function killAll(workers: readonly TestWorker[]): Promise<void> {
  for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
}

/** Polls until `check` returns a value (not undefined) or `timeoutMs` passes. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until job `id` runs and has done `frames` frames; returns it and the pid of the worker process running it. */
export async function whenRunning(queue: Queue, id: string, frames: number): Promise<{ job: Job; pid: number }> {
  const job = await waitFor(`job ${id} to be running`, async () => {
    const j = await queue.getJob(id);
    return j?.processedBy && ((j.progress as { framesDone?: number }).framesDone ?? 0) >= frames ? j : undefined;
  });
  return { job, pid: Number(job.processedBy!.split(':')[1]) };
}

/** Waits until every job of the queue has finished (none waiting, active or delayed). */
export async function drained(queue: Queue, timeoutMs = 60_000): Promise<Record<string, number>> {
  return waitFor(
    'the queue to drain',
    async () => {
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
      return c.waiting! + c.active! + c.delayed! + c.prioritized! === 0 ? c : undefined;
    },
    timeoutMs,
  );
}

/** `tandem render --fake` of the same job, alone, into `path`. */
export function renderAlone(args: string[], path: string): void {
  const r = spawnSync(process.execPath, [BIN, 'render', '--fake', '--no-progress', ...args, '--out', path], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`tandem render failed (${r.status}): ${r.stderr}`);
}

/** Every file under `dir`, relative, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(dir.length + 1))
    .sort();
}
