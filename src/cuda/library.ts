// Finds and loads the driver (libcuda), NVRTC and NVML, lazily and once each.
// The search is a pure function of a `SearchHost` (env, file tests, directory listings), so CI
// can check what is tried on a machine without any of them; only `loadLibrary()` touches dlopen.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import koffi from 'koffi';
import { LibraryNotFoundError } from './errors.js';

export type LibraryKind = 'cuda' | 'nvrtc' | 'nvml';

/** What the search may look at; the real one reads the machine, tests inject their own. */
export interface SearchHost {
  env: Readonly<Record<string, string | undefined>>;
  home: string;
  isFile(path: string): boolean;
  isDirectory(path: string): boolean;
  /** Entry names in a directory, [] when it cannot be read. */
  list(path: string): string[];
  /** `ldconfig -p` output, '' when unavailable. */
  ldconfig(): string;
  /** sys.path from a short-lived python3, [] when unavailable. Asked only as a last resort. */
  pythonPaths(): string[];
}

/** NVRTC sonames, newest first: CUDA 13 drivers run cubins from NVRTC 12 too. */
const NVRTC_NAMES = ['libnvrtc.so.13', 'libnvrtc.so.12', 'libnvrtc.so'];
const CUDA_NAMES = ['libcuda.so.1', 'libcuda.so'];
const NVML_NAMES = ['libnvidia-ml.so.1', 'libnvidia-ml.so'];

/** Where pip's nvidia wheels put NVRTC, relative to a site-packages directory. */
const WHEEL_DIRS = ['nvidia/cu13/lib', 'nvidia/cuda_nvrtc/lib', 'nvidia/cu12/lib'];

export const HINTS: Readonly<Record<LibraryKind, string>> = {
  cuda: 'Install the NVIDIA driver (nvidia-smi should work), or add the directory holding libcuda.so.1 to LD_LIBRARY_PATH.',
  nvrtc:
    'Set TANDEM_NVRTC_PATH to libnvrtc.so.* or its directory, or CUDA_HOME to a CUDA toolkit (or `pip install nvidia-cuda-nvrtc-cu12`).',
  nvml: 'NVML ships with the NVIDIA driver; add the directory holding libnvidia-ml.so.1 to LD_LIBRARY_PATH.',
};

/**
 * Candidates in the order they are tried: absolute paths that exist on this host, then bare
 * sonames for the dynamic loader (which honours LD_LIBRARY_PATH and its cache).
 * `considered` receives every place looked at, for the error message.
 */
export function libraryCandidates(kind: LibraryKind, host: SearchHost, considered: string[] = []): string[] {
  const loaderNames = kind === 'cuda' ? CUDA_NAMES : kind === 'nvml' ? NVML_NAMES : NVRTC_NAMES;
  const found: string[] = [];
  if (kind === 'nvrtc') {
    const seenDirs = new Set<string>();
    const tryFile = (path: string) => {
      if (!found.includes(path) && host.isFile(path)) found.push(path);
    };
    const tryDir = (dir: string) => {
      if (seenDirs.has(dir)) return;
      seenDirs.add(dir);
      considered.push(dir);
      for (const name of NVRTC_NAMES) tryFile(join(dir, name));
    };
    const explicit = host.env.TANDEM_NVRTC_PATH;
    if (explicit) {
      if (host.isDirectory(explicit)) tryDir(explicit);
      else {
        considered.push(explicit);
        tryFile(explicit);
      }
    }
    for (const v of ['CUDA_HOME', 'CUDA_PATH']) {
      const root = host.env[v];
      if (root) for (const sub of ['lib64', 'lib']) tryDir(join(root, sub));
    }
    for (const sub of ['lib64', 'lib']) tryDir(join('/usr/local/cuda', sub));
    const cached = ldconfigPaths(host.ldconfig(), 'libnvrtc.so');
    considered.push(cached.length ? `the ldconfig cache (${cached.join(', ')})` : 'the ldconfig cache');
    for (const path of cached) tryFile(path);
    for (const site of sitePackages(host)) for (const w of WHEEL_DIRS) tryDir(join(site, w));
    if (found.length === 0) {
      const sites = host.pythonPaths().filter((p) => /(site|dist)-packages\/?$/.test(p));
      for (const site of sites) for (const w of WHEEL_DIRS) tryDir(join(site, w));
    }
  }
  considered.push(`the dynamic loader (${loaderNames.join(', ')})`);
  found.push(...loaderNames);
  return found;
}

/** Paths of `prefix*` libraries in `ldconfig -p` output ("\tlibnvrtc.so.12 (libc6,x86-64) => /usr/lib/..."). */
export function ldconfigPaths(output: string, prefix: string): string[] {
  const paths: string[] = [];
  for (const line of output.split('\n')) {
    const m = /^\s*(\S+)\s.*=>\s*(\S+)\s*$/.exec(line);
    if (m && m[1]!.startsWith(prefix)) paths.push(m[2]!);
  }
  // Newest soname first, as with NVRTC_NAMES.
  return paths.sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
}

/** site-packages directories found by listing, without starting Python. */
export function sitePackages(host: SearchHost): string[] {
  const roots: string[] = ['/usr/lib', '/usr/local/lib', join(host.home, '.local/lib')];
  for (const v of ['VIRTUAL_ENV', 'CONDA_PREFIX']) {
    const p = host.env[v];
    if (p) roots.unshift(join(p, 'lib'));
  }
  const out: string[] = [];
  for (const root of roots) {
    for (const py of host
      .list(root)
      .filter((n) => /^python3(\.\d+)?$/.test(n))
      .sort()
      .reverse()) {
      for (const leaf of ['site-packages', 'dist-packages']) {
        const dir = join(root, py, leaf);
        if (host.isDirectory(dir)) out.push(dir);
      }
    }
  }
  return out;
}

export const realHost: SearchHost = {
  env: process.env,
  home: homedir(),
  isFile: (p) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  },
  isDirectory: (p) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  },
  list: (p) => {
    try {
      return existsSync(p) ? readdirSync(p) : [];
    } catch {
      return [];
    }
  },
  ldconfig: () => {
    for (const bin of ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig']) {
      try {
        return execFileSync(bin, ['-p'], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] });
      } catch {
        // next
      }
    }
    return '';
  },
  pythonPaths: () => {
    try {
      const out = execFileSync('python3', ['-c', 'import sys;print("\\n".join(p for p in sys.path if p))'], {
        encoding: 'utf8',
        timeout: 3000,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      return out.split('\n').filter(Boolean);
    } catch {
      return [];
    }
  },
};

export interface LoadedLibrary {
  readonly kind: LibraryKind;
  /** The path or soname that loaded. */
  readonly path: string;
  readonly lib: ReturnType<typeof koffi.load>;
}

type Loader = (path: string) => ReturnType<typeof koffi.load>;

/** Tries the candidates in order; throws LibraryNotFoundError naming all of them. */
export function loadLibrary(
  kind: LibraryKind,
  host: SearchHost = realHost,
  load: Loader = (p) => koffi.load(p),
): LoadedLibrary {
  const considered: string[] = [];
  const failures: string[] = [];
  for (const path of libraryCandidates(kind, host, considered)) {
    try {
      return { kind, path, lib: load(path) };
    } catch (err) {
      // A file that exists but does not load (wrong arch, missing deps) is worth naming.
      if (path.startsWith('/')) failures.push(`${path} (${firstLine((err as Error).message)})`);
    }
  }
  throw new LibraryNotFoundError(
    kind,
    [...considered, ...failures.map((f) => `found but failed to load ${f}`)],
    HINTS[kind],
  );
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

const cache = new Map<LibraryKind, LoadedLibrary | LibraryNotFoundError>();

/** Loads once per process; a failure is remembered too, so callers do not search twice. */
export function library(kind: LibraryKind): LoadedLibrary {
  let entry = cache.get(kind);
  if (!entry) {
    try {
      entry = loadLibrary(kind);
    } catch (err) {
      if (!(err instanceof LibraryNotFoundError)) throw err;
      entry = err;
    }
    cache.set(kind, entry);
  }
  if (entry instanceof LibraryNotFoundError) throw entry;
  return entry;
}
