// The pure parts of the worker, without Redis: a job's output path under --out-root (refusals,
// leftovers of earlier attempts of the same job only, a directory replaced whole) and the
// redis:// URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { redisConnection } from '../src/worker/connection.js';
import { checkRenderJob, JobDataError } from '../src/worker/job-data.js';
import { commitJobOutput, discardJobOutput, prepareJobOutput, resolveOutRoot } from '../src/worker/output.js';
import { tempDir } from './worker-helpers.js';

test('a job output: a temporary name beside it; leftovers of the same job removed, other jobs’ kept', async () => {
  const dir = await tempDir('worker-output');
  try {
    const root = await resolveOutRoot(dir);
    const first = await prepareJobOutput(root, 'a/v.mp4', '7', false);
    assert.equal(first.final, join(root, 'a/v.mp4'));
    assert.match(first.temp, /\/a\/\.tandem-tmp\.7\.[0-9a-f]{8}\/v\.mp4$/);
    await writeFile(first.temp, 'half');
    // What a sink leaves beside its output when killed or aborted goes with the attempt.
    await writeFile(join(first.attempt, '.v.tandem-123-abcd.mp4'), 'staging');
    await writeFile(join(first.attempt, 'v.partial.mp4'), 'partial');
    const other = await prepareJobOutput(root, 'a/v.mp4', '7.1', false);
    await writeFile(other.temp, 'other job');
    // The next attempt of job 7 removes the first attempt's files, not job 7.1's.
    const again = await prepareJobOutput(root, 'a/v.mp4', '7', false);
    assert.deepEqual(
      (await readdir(join(root, 'a'))).sort(),
      [basename(again.attempt), basename(other.attempt)].sort(),
    );
    await writeFile(again.temp, 'whole');
    await commitJobOutput(again);
    assert.equal(await readFile(join(root, 'a/v.mp4'), 'utf8'), 'whole');
    await discardJobOutput(other);
    assert.deepEqual(await readdir(join(root, 'a')), ['v.mp4']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a directory output replaces an older one whole', async () => {
  const dir = await tempDir('worker-output');
  try {
    const root = await resolveOutRoot(dir);
    for (const files of [['1.png', '2.png', '3.png'], ['1.png']]) {
      const o = await prepareJobOutput(root, 'frames/', 'j', true);
      await mkdir(o.temp);
      for (const f of files) await writeFile(join(o.temp, f), f);
      await commitJobOutput(o);
    }
    assert.deepEqual(await readdir(join(root, 'frames')), ['1.png']);
    assert.deepEqual(await readdir(root), ['frames']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('paths out of --out-root are refused before anything is created', async () => {
  const dir = await tempDir('worker-output');
  try {
    await mkdir(join(dir, 'root'));
    await mkdir(join(dir, 'elsewhere'));
    const root = await resolveOutRoot(join(dir, 'root'));
    await symlink(join(dir, 'elsewhere'), join(root, 'link'));
    await symlink(join(dir, 'elsewhere', 'f.raw'), join(root, 'f.raw'));
    for (const out of ['../x.raw', join(dir, 'x.raw'), 'link/x.raw', 'link/deep/er/x.raw', 'f.raw', '.'])
      await assert.rejects(prepareJobOutput(root, out, '1', false), JobDataError, out);
    assert.deepEqual(await readdir(join(dir, 'elsewhere')), []);
    assert.throws(() => checkRenderJob({ frames: 1, out: 'a/../../x.raw' }), /outside the worker's --out-root/);
    assert.equal(checkRenderJob({ frames: 1, out: 'a/../x.raw' }).out, 'a/../x.raw');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('redis:// URLs', () => {
  assert.deepEqual(redisConnection('redis://:s%40cret@10.0.0.5:6380/2'), {
    host: '10.0.0.5',
    port: 6380,
    password: 's@cret',
    db: 2,
    maxRetriesPerRequest: null,
  });
  assert.deepEqual(redisConnection('rediss://h'), { host: 'h', port: 6379, tls: {}, maxRetriesPerRequest: null });
  assert.throws(() => redisConnection('http://h:6379'), /must start with redis:\/\//);
  assert.throws(() => redisConnection('redis://h/x'), /database number/);
});
