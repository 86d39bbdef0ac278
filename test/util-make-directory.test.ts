// A directory that cannot be made must fail at once. Node's own recursive mkdir loops forever at full CPU on a path
// whose parent exists but answers ENOENT (procfs), so every check here runs in a child process with a time limit: a
// regression is a killed child and a failed test, not a hung suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MakeDirectoryError, makeDirectory } from '../src/util/make-directory.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const MODULE = new URL('../src/util/make-directory.js', import.meta.url).href;
const CACHE = new URL('../src/core/compile-cache.js', import.meta.url).href;
let root = HERE;
while (!existsSync(join(root, 'package.json'))) root = dirname(root);
const BIN = join(root, 'bin', 'tandem.js');
const hasProc = existsSync('/proc/self');

/** Runs an ES module snippet in a child with a time limit; returns its exit status and output. */
function child(code: string, timeout = 15_000) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout });
  return { status: r.status, signal: r.signal, out: r.stdout + r.stderr };
}

test(
  'makeDirectory on /proc paths fails at once naming the path and the cause',
  { skip: !hasProc && 'no /proc' },
  () => {
    for (const path of ['/proc/tandem-nope', '/proc/tandem-nope/a/b', '/proc/self/tandem-nope']) {
      const r = child(`import { makeDirectory } from ${JSON.stringify(MODULE)};
try { makeDirectory(${JSON.stringify(path)}); console.log('made'); } catch (e) { console.log(e.name, e.code, e.message); }`);
      assert.equal(r.signal, null, `${path}: the child was killed after the time limit (spinning)`);
      assert.match(r.out, /MakeDirectoryError ENOENT cannot create directory .*does not accept new entries/, path);
      assert.ok(r.out.includes(path), `${path} named: ${r.out}`);
    }
  },
);

test('the kernel cache on a /proc path: a miss, no write, no hang', { skip: !hasProc && 'no /proc' }, () => {
  const r = child(`import { readCached, writeCached } from ${JSON.stringify(CACHE)};
writeCached('/proc/tandem-nope/cache', 'k', 'cubin', new Uint8Array([1]));
console.log(readCached('/proc/tandem-nope/cache', 'k', 'cubin'));`);
  assert.equal(r.signal, null, 'the child was killed after the time limit (spinning)');
  assert.equal(r.out.trim(), 'null');
});

test(
  'tandem bench --out /proc/nope: exit 2 at once with the path',
  { skip: (!hasProc && 'no /proc') || (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js')) && 'not built') },
  () => {
    const r = spawnSync(process.execPath, [BIN, 'bench', '--fake', '--out', '/proc/tandem-nope', '--no-peers'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.signal, null, `killed after the time limit (spinning): ${r.stderr}`);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^tandem: --out: cannot create directory \/proc\/tandem-nope: /m);
  },
);

test('makeDirectory: nested creation, an existing directory, a file in the way, a dangling link', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-mkdir-'));
  try {
    makeDirectory(join(dir, 'a', 'b', 'c'));
    assert.ok(statSync(join(dir, 'a', 'b', 'c')).isDirectory());
    makeDirectory(join(dir, 'a', 'b'));
    writeFileSync(join(dir, 'file'), '');
    assert.throws(
      () => makeDirectory(join(dir, 'file', 'x')),
      (e: unknown) =>
        e instanceof MakeDirectoryError && e.code === 'ENOTDIR' && /file is not a directory/.test(e.message),
    );
    symlinkSync(join(dir, 'gone'), join(dir, 'dangling'));
    assert.throws(
      () => makeDirectory(join(dir, 'dangling', 'x')),
      (e: unknown) => e instanceof MakeDirectoryError && (e.code === 'EEXIST') === false,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
