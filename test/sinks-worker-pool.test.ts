// The PNG encoder's worker pool: close() while tasks are still running must settle, in a process whose only pending
// work is that close(). A late answer from a worker that was still busy once unref'd every worker, nothing kept the
// event loop alive, and Node left the caller's top-level await unfinished (exit code 13, no message). The race
// needs an answer to be waiting when close() starts: the child blocks its main thread until the workers have answered,
// then closes, 30 times over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerPool } from '../src/sinks/worker-pool.js';

const POOL_URL = new URL('../src/sinks/worker-pool.js', import.meta.url).href;

const SCRIPT = `
import { WorkerPool } from ${JSON.stringify(POOL_URL)};
const SRC = \`const { parentPort } = require('node:worker_threads');
parentPort.on('message', (n) => parentPort.postMessage({ result: n }));\`;
for (let i = 0; i < 30; i++) {
  const pool = new WorkerPool(SRC, 2, 'test');
  const tasks = [1, 2, 3].map((n) => pool.run(n));
  for (const t of tasks) t.catch(() => {});
  await tasks[0];
  // Block the main thread so the other answers are waiting in the queue when close() starts.
  const end = performance.now() + 30;
  while (performance.now() < end);
  await pool.close();
}
process.stdout.write('closed 30 pools\\n');
`;

test('close() with tasks still running settles: the process never exits 13 with the await unfinished', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-pool-'));
  try {
    const script = join(dir, 'close-pools.mjs');
    writeFileSync(script, SCRIPT);
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `exit ${r.status} (13: the event loop emptied inside close()); ${r.stderr}`);
    assert.equal(r.stdout, 'closed 30 pools\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('close() rejects queued and running tasks with a clear message, and run() after close() rejects', async () => {
  const src = `const { parentPort } = require('node:worker_threads');
parentPort.on('message', (ms) => setTimeout(() => parentPort.postMessage({ result: ms }), ms));`;
  const pool = new WorkerPool(src, 1, 'test');
  const running = pool.run(200);
  const queued = pool.run(1);
  const outcomes = Promise.allSettled([running, queued]);
  await new Promise((r) => setTimeout(r, 20));
  await pool.close();
  await outcomes;
  await assert.rejects(running, /test worker pool closed while a task was running/);
  await assert.rejects(queued, /test worker pool closed/);
  await assert.rejects(pool.run(1), /test worker pool is closed/);
});
