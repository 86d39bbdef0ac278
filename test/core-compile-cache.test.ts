import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir, cacheKey, readCached, writeCached } from '../src/core/compile-cache.js';

const parts = {
  source: 'extern "C" __global__ void k() {}',
  options: ['--gpu-architecture=sm_90'],
  arch: 'sm_90',
  nvrtcVersion: '13.0',
  format: 'cubin',
};

test('the key changes with source, options, architecture and NVRTC version', () => {
  const base = cacheKey(parts);
  assert.match(base, /^[0-9a-f]{64}$/);
  assert.equal(cacheKey({ ...parts }), base);
  for (const change of [
    { source: `${parts.source} ` },
    { options: [...parts.options, '-DN=4'] },
    { arch: 'sm_89' },
    { nvrtcVersion: '12.8' },
    { format: 'ptx' },
  ]) {
    assert.notEqual(cacheKey({ ...parts, ...change }), base, JSON.stringify(change));
  }
});

test('cache directory: TANDEM_CACHE_DIR, else XDG_CACHE_HOME/tandem, else ~/.cache/tandem', () => {
  assert.equal(cacheDir({ TANDEM_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' }, '/h'), '/c');
  assert.equal(cacheDir({ XDG_CACHE_HOME: '/x' }, '/h'), '/x/tandem');
  assert.equal(cacheDir({}, '/h'), '/h/.cache/tandem');
});

test('write then read round-trips, leaves no temporary file, and a miss is null', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'tandem-cache-')), 'nested');
  try {
    assert.equal(readCached(dir, 'k', 'cubin'), null);
    writeCached(dir, 'k', 'cubin', new Uint8Array([1, 2, 3]));
    assert.deepEqual([...readCached(dir, 'k', 'cubin')!], [1, 2, 3]);
    assert.deepEqual(readdirSync(dir), ['k.cubin']);
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});

test('an entry that does not verify is a miss: corrupted, truncated, swapped, unheaded; rewriting it repairs it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-cache-'));
  try {
    const image = new Uint8Array(4096).map((_, i) => (i * 13) & 0xff);
    const other = new Uint8Array(512).fill(7);
    writeCached(dir, 'a', 'cubin', image);
    writeCached(dir, 'b', 'cubin', other);
    const fileA = join(dir, 'a.cubin');
    const good = readFileSync(fileA);
    assert.deepEqual(readCached(dir, 'a', 'cubin'), Buffer.from(image));

    const flipped = Buffer.from(good);
    flipped[flipped.length - 100]! ^= 0x01;
    const cases: Array<[string, Buffer]> = [
      ['one bit flipped in the binary', flipped],
      ['truncated', good.subarray(0, good.length - 1000)],
      ['empty', Buffer.alloc(0)],
      ['header only', good.subarray(0, good.indexOf(0x0a) + 1)],
      ["another key's entry under this name", readFileSync(join(dir, 'b.cubin'))],
      ['a bare binary with no header', Buffer.from(image)],
    ];
    for (const [what, bytes] of cases) {
      writeFileSync(fileA, bytes);
      assert.equal(readCached(dir, 'a', 'cubin'), null, what);
    }
    writeFileSync(fileA, good);
    assert.equal(readCached(dir, 'a', 'ptx'), null, 'asked for another format');
    renameSync(fileA, join(dir, 'a.ptx'));
    assert.equal(readCached(dir, 'a', 'ptx'), null, 'a cubin entry renamed to .ptx');

    writeFileSync(fileA, flipped);
    writeCached(dir, 'a', 'cubin', image);
    assert.deepEqual(readCached(dir, 'a', 'cubin'), Buffer.from(image), 'the recompiled image replaced the bad entry');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
