// `tandem bench --jobs` on the fake device, end to end through the built CLI: the table on
// stdout, the figures in results.json under `jobs` and the page in report.html, the same table
// from two runs (walls on the fake's virtual clock); and the per-job summary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AFTER_IDLE, FIRST_JOB_CYCLES, summarizeJobs, type JobsDocument } from '../src/profile/jobs.js';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}
const root = repoRoot();
const built = existsSync(path.join(root, 'dist/src/cli/main.js')) ? false : 'dist/ not built';

/** `tandem ARGS` from the repository root. */
function tandem(args: string[]) {
  return spawnSync(process.execPath, ['bin/tandem.js', ...args], { cwd: root, encoding: 'utf8' });
}

/** fn in a fresh temporary directory, removed after. */
async function inTempDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('summarizeJobs: median, p99 and jobs/s of the steady jobs; the first job and the jobs after idle apart', () => {
  const walls = Array.from({ length: 100 }, (_, k) => k + 1);
  const s = summarizeJobs(500, walls, [7, 9, 8]);
  assert.deepEqual(
    { first: s.firstMs, median: s.medianMs, p99: s.p99Ms, jobs: s.jobs, afterIdle: s.afterIdleMs },
    { first: 500, median: 50, p99: 99, jobs: 100, afterIdle: 8 },
  );
  assert.deepEqual(s.wallsMs, walls, 'the steady walls, in order');
  assert.ok(Math.abs(s.jobsPerSec - 100_000 / 5050) < 1e-9);
});

test(
  'tandem bench --jobs --fake: a fresh pipeline per job, every job from the pool after the first',
  { skip: built, timeout: 120_000 },
  () =>
    inTempDir('tandem-jobs-', async (dir) => {
      const r = tandem(['bench', '--jobs', '4', '--fake', '--out', dir]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^job\s+depth\s+tandem median \/ p99 \/ first \/ idle ms/);
      assert.match(r.stdout, /\n16x64K\s/);
      const results = path.join(dir, 'results.json');
      const report = path.join(dir, 'report.html');
      assert.ok(r.stderr.includes(`wrote ${results}, ${report}\n`), r.stderr);
      const doc = JSON.parse(await readFile(results, 'utf8')) as JobsDocument;
      assert.equal(doc.schema, 'tandem-jobs/1');
      assert.equal(doc.backend, 'fake');
      assert.equal(doc.environment.backend, 'fake');
      assert.ok(doc.notes.length >= 3);
      const html = await readFile(report, 'utf8');
      assert.match(html, /<body data-kind="jobs">/);
      assert.ok(html.includes(`<title>${doc.title}</title>`), doc.title);
      assert.deepEqual(
        doc.jobs.cells.map((c) => c.key),
        ['16x64K', '16x256K', '8x1M'],
      );
      assert.equal(doc.jobs.warmUp.jobs, 4);
      assert.ok(doc.jobs.processFirstMs > 0 && doc.jobs.warmUp.medianMs > 0);
      for (const c of doc.jobs.cells) {
        assert.equal(c.jobs, 4);
        assert.equal(c.wallsMs.length, 4);
        assert.ok(c.medianMs > 0 && c.p99Ms >= c.medianMs && c.firstMs > 0 && c.idealMs > 0);
        // Walls and ideal on the same (virtual) clock: a job moves the ideal's bytes and more.
        assert.ok(
          c.vsIdeal >= 1 && c.firstVsIdeal >= 1,
          `${c.key}: /ideal ${c.vsIdeal}, first/ideal ${c.firstVsIdeal}`,
        );
        assert.ok(c.afterIdleMs > 0 && c.firstJobsMs.length === FIRST_JOB_CYCLES, JSON.stringify(c.firstJobsMs));
        assert.equal(c.afterIdleVsFasterPeer, null);
        // reserve() pinned the ring before each first job: no job pinned anything. The cell's first
        // job starts with every slot reserved (min(chunks, 16)), every job after it at the depth it
        // decided; in the first cell, whose shape the warm-up ran, the first job starts there too.
        assert.equal(c.pool.pinnedMisses, 0, `${c.key}: ${JSON.stringify(c.pool)}`);
        const firstRing = c === doc.jobs.cells[0] ? c.depth : Math.min(c.chunks, 16);
        const after = FIRST_JOB_CYCLES - 1 + 4 + AFTER_IDLE.jobs;
        assert.equal(c.pool.pinnedHits, firstRing + after * c.depth, c.key);
        assert.deepEqual(c.peers['cupy-jobs'], { status: 'skipped', reason: 'the peers need a GPU (--fake given)' });
      }
      const bad = tandem(['bench', '--jobs', '0', '--fake', '--out', dir]);
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /--jobs: a count of jobs per cell \(1 or more\); got 0/);
    }),
);

test(
  'tandem bench --jobs --fake twice: the same table and the same figures (the virtual clock times every job)',
  { skip: built, timeout: 120_000 },
  () =>
    inTempDir('tandem-jobs-twice-', async (dir) => {
      const runs = ['a', 'b'].map((name) => {
        const out = path.join(dir, name);
        const r = tandem(['bench', '--jobs', '6', '--fake', '--out', out]);
        assert.equal(r.status, 0, r.stderr);
        return { stdout: r.stdout, out };
      });
      assert.equal(runs[0]!.stdout, runs[1]!.stdout, 'two fake runs print the same table');
      const [a, b] = await Promise.all(
        runs.map(async (r) => JSON.parse(await readFile(path.join(r.out, 'results.json'), 'utf8')) as JobsDocument),
      );
      assert.deepEqual(a!.jobs, b!.jobs);
    }),
);

test(
  'bench/jobs-soak.ts --fake: short jobs of three shapes, no chunk corrupted, the pool never past a ring per shape',
  { skip: existsSync(path.join(root, 'dist/bench/jobs-soak.js')) ? false : 'dist/ not built', timeout: 120_000 },
  () =>
    inTempDir('tandem-jobs-soak-', async (dir) => {
      const r = spawnSync(process.execPath, ['--expose-gc', 'dist/bench/jobs-soak.js', '--fake', '--jobs', '300'], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, OUT: dir },
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^jobs soak: 300 jobs \(\d+ chunks, shapes 16x64K, 16x256K, 8x1M\)/);
      assert.match(r.stdout, /\ncorrupted chunks: 0\n/);
      const doc = JSON.parse(await readFile(path.join(dir, 'jobs-soak.json'), 'utf8')) as {
        bad: number;
        pool: { pinned: { hits: number; misses: number } };
        samples: { poolPinnedMiB: number }[];
      };
      assert.equal(doc.bad, 0);
      // Each shape's ring is allocated over its first jobs, then everything comes from the pool.
      assert.ok(doc.pool.pinned.misses <= 3 * 16, JSON.stringify(doc.pool.pinned));
      const held = doc.samples.slice(1).map((s) => s.poolPinnedMiB);
      assert.deepEqual(
        held.slice(1),
        held.slice(1).map(() => held.at(-1)),
        `pool pinned MiB per sample: ${held}`,
      );
    }),
);
