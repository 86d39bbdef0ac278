import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
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
