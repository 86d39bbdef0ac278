// `tandem info --gpu` on a machine without an NVIDIA driver (CI): one line on stderr saying what
// was looked for, exit code 2, no stack trace (plain `tandem info` shows the fake device there:
// cli-first-run.test.ts). Runs the real CLI from the build (bin/tandem.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { driverAvailable } from '../src/core/open.js';

/** The repository root, from test/ (tsx) or dist/test/ (npm test). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

const root = repoRoot();
const built = existsSync(join(root, 'dist/src/cli/main.js'));
const avail = driverAvailable();
const skip = !built
  ? 'the CLI is not built: run npm run build'
  : avail.ok
    ? 'an NVIDIA driver is present; this checks the no-driver path'
    : false;

for (const args of [
  ['info', '--gpu'],
  ['info', '--json', '--gpu'],
]) {
  test(`tandem ${args.join(' ')} without a driver: one line, exit code 2`, { skip }, () => {
    const r = spawnSync(process.execPath, [join(root, 'bin/tandem.js'), ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, TANDEM_DEBUG: '', LD_LIBRARY_PATH: '' },
      timeout: 60_000,
    });
    assert.equal(r.status, 2, `exit code; stderr: ${r.stderr}`);
    assert.equal(r.stdout, '');
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, `one line: ${r.stderr}`);
    assert.match(lines[0]!, /^tandem: No NVIDIA driver found: looked for .*libcuda\.so\.1.*LD_LIBRARY_PATH\.$/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
}
