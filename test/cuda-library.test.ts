import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ldconfigPaths, libraryCandidates, loadLibrary, sitePackages, type SearchHost } from '../src/cuda/library.js';
import { LibraryNotFoundError } from '../src/cuda/errors.js';

/** A machine made of a file list; directories are implied by the files under them. */
function fakeHost(
  files: string[],
  env: Record<string, string> = {},
  extra: Partial<SearchHost> = {},
): SearchHost & { pythonCalls: number } {
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.split('/');
    for (let i = 2; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const host = {
    env,
    home: '/home/u',
    pythonCalls: 0,
    isFile: (p: string) => files.includes(p),
    isDirectory: (p: string) => dirs.has(p),
    list: (p: string) => [
      ...new Set(
        [...files, ...dirs].filter((f) => f.startsWith(`${p}/`)).map((f) => f.slice(p.length + 1).split('/')[0]!),
      ),
    ],
    ldconfig: () => '',
    pythonPaths: () => {
      host.pythonCalls++;
      return [];
    },
    ...extra,
  };
  return host;
}

const neverLoads = (p: string): never => {
  throw new Error(`${p}: cannot open shared object file: No such file or directory`);
};

test('nothing installed: LibraryNotFoundError lists every place and names the variable to set', () => {
  const host = fakeHost([], { CUDA_HOME: '/opt/cuda' });
  assert.throws(
    () => loadLibrary('nvrtc', host, neverLoads),
    (e: Error) => {
      assert.ok(e instanceof LibraryNotFoundError);
      assert.equal(e.library, 'nvrtc');
      for (const where of [
        '/opt/cuda/lib64',
        '/opt/cuda/lib',
        '/usr/local/cuda/lib64',
        '/usr/local/cuda/lib',
        'the ldconfig cache',
        'the dynamic loader (libnvrtc.so.13, libnvrtc.so.12, libnvrtc.so)',
      ]) {
        assert.ok(e.searched.includes(where), `searched ${where}: ${e.searched.join(' | ')}`);
      }
      assert.match(e.message, /^NVRTC not found: looked for /);
      assert.match(e.message, /Set TANDEM_NVRTC_PATH/);
      return true;
    },
  );
  assert.equal(host.pythonCalls, 1, 'python3 is asked once, as the last resort');
});

test('no driver: one sentence naming libcuda.so.1 and what to do', () => {
  assert.throws(
    () => loadLibrary('cuda', fakeHost([]), neverLoads),
    (e: Error) =>
      e instanceof LibraryNotFoundError &&
      e.message ===
        'No NVIDIA driver found: looked for the dynamic loader (libcuda.so.1, libcuda.so). ' +
          'Install the NVIDIA driver (nvidia-smi should work), or add the directory holding libcuda.so.1 to LD_LIBRARY_PATH.' &&
      !e.message.includes('\n'),
  );
});

test('TANDEM_NVRTC_PATH wins, as a file or a directory', () => {
  const files = ['/x/libnvrtc.so.12', '/usr/local/cuda/lib64/libnvrtc.so.13'];
  assert.equal(
    libraryCandidates('nvrtc', fakeHost(files, { TANDEM_NVRTC_PATH: '/x/libnvrtc.so.12' }))[0],
    '/x/libnvrtc.so.12',
  );
  assert.equal(libraryCandidates('nvrtc', fakeHost(files, { TANDEM_NVRTC_PATH: '/x' }))[0], '/x/libnvrtc.so.12');
  assert.equal(libraryCandidates('nvrtc', fakeHost(files))[0], '/usr/local/cuda/lib64/libnvrtc.so.13');
});

test('order: CUDA_HOME, CUDA_PATH, /usr/local/cuda, ldconfig, python wheels, then the loader', () => {
  const files = [
    '/usr/lib/python3/dist-packages/nvidia/cu13/lib/libnvrtc.so.13',
    '/usr/local/cuda/lib64/libnvrtc.so.12',
    '/ch/lib64/libnvrtc.so.13',
    '/cp/lib/libnvrtc.so',
    '/usr/lib/x86_64-linux-gnu/libnvrtc.so.12',
  ];
  const ld =
    '\tlibnvrtc.so.12 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvrtc.so.12\n\tlibc.so.6 (libc6,x86-64) => /lib/libc.so.6\n';
  const host = fakeHost(files, { CUDA_HOME: '/ch', CUDA_PATH: '/cp' }, { ldconfig: () => ld });
  assert.deepEqual(libraryCandidates('nvrtc', host), [
    '/ch/lib64/libnvrtc.so.13',
    '/cp/lib/libnvrtc.so',
    '/usr/local/cuda/lib64/libnvrtc.so.12',
    '/usr/lib/x86_64-linux-gnu/libnvrtc.so.12',
    '/usr/lib/python3/dist-packages/nvidia/cu13/lib/libnvrtc.so.13',
    'libnvrtc.so.13',
    'libnvrtc.so.12',
    'libnvrtc.so',
  ]);
  assert.equal(host.pythonCalls, 0, 'python3 is not started when something was found');
});

test('python wheels under a virtualenv, ~/.local and a python3 sys.path fallback', () => {
  const venv = '/venv/lib/python3.12/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12';
  const local = '/home/u/.local/lib/python3.10/site-packages/nvidia/cu12/lib/libnvrtc.so.12';
  assert.equal(libraryCandidates('nvrtc', fakeHost([venv], { VIRTUAL_ENV: '/venv' }))[0], venv);
  assert.equal(libraryCandidates('nvrtc', fakeHost([local]))[0], local);
  const conda = '/conda/lib/python3.11/site-packages/nvidia/cu13/lib/libnvrtc.so.13';
  const viaPython = fakeHost(
    [conda],
    {},
    { list: () => [], pythonPaths: () => ['/conda/lib/python3.11/site-packages', '/conda/lib/python311.zip'] },
  );
  assert.equal(libraryCandidates('nvrtc', viaPython)[0], conda);
});

test('a file that exists but fails to load is named with the loader error', () => {
  const host = fakeHost(['/usr/local/cuda/lib64/libnvrtc.so.13']);
  assert.throws(
    () => loadLibrary('nvrtc', host, neverLoads),
    (e: Error) =>
      e instanceof LibraryNotFoundError &&
      /found but failed to load \/usr\/local\/cuda\/lib64\/libnvrtc\.so\.13 \(.*No such file/.test(e.message),
  );
});

test('the first candidate that loads is used', () => {
  const host = fakeHost(['/usr/local/cuda/lib64/libnvrtc.so.13']);
  const loaded = loadLibrary('nvrtc', host, (p) => ({ path: p }) as never);
  assert.equal(loaded.path, '/usr/local/cuda/lib64/libnvrtc.so.13');
  const viaLoader = loadLibrary('cuda', fakeHost([]), (p) => {
    if (p !== 'libcuda.so') throw new Error('no');
    return {} as never;
  });
  assert.equal(viaLoader.path, 'libcuda.so');
});

test('ldconfig -p parsing keeps matching libraries, newest soname first', () => {
  const out = [
    "123 libs found in cache `/etc/ld.so.cache'",
    '\tlibnvrtc.so.12 (libc6,x86-64) => /a/libnvrtc.so.12',
    '\tlibnvrtc.so.13 (libc6,x86-64) => /b/libnvrtc.so.13',
    '\tlibnvrtc-builtins.so.13 (libc6,x86-64) => /b/libnvrtc-builtins.so.13',
    '\tlibz.so.1 (libc6,x86-64) => /lib/libz.so.1',
  ].join('\n');
  assert.deepEqual(ldconfigPaths(out, 'libnvrtc.so'), ['/b/libnvrtc.so.13', '/a/libnvrtc.so.12']);
});

test('site-packages discovery lists python3.* dirs without running python', () => {
  const host = fakeHost([
    '/usr/local/lib/python3.11/dist-packages/x',
    '/usr/local/lib/python2.7/dist-packages/x',
    '/usr/lib/python3.12/site-packages/x',
  ]);
  assert.deepEqual(sitePackages(host), [
    '/usr/lib/python3.12/site-packages',
    '/usr/local/lib/python3.11/dist-packages',
  ]);
});
