// On-disk cache of NVRTC output: compiling costs far more than loading a cached cubin.
// Keyed by sha256 of everything that changes the binary (source, options, architecture, NVRTC
// version); written to a temporary name and renamed so a concurrent reader never sees half.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function cacheDir(env: Readonly<Record<string, string | undefined>> = process.env, home = homedir()): string {
  if (env.TANDEM_CACHE_DIR) return env.TANDEM_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(home, '.cache'), 'tandem');
}

export interface CacheKeyParts {
  source: string;
  options: readonly string[];
  arch: string;
  nvrtcVersion: string;
  /** 'cubin' or 'ptx'. */
  format: string;
}

export function cacheKey(parts: CacheKeyParts): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([parts.format, parts.arch, parts.nvrtcVersion, parts.options, parts.source]));
  return h.digest('hex');
}

export function readCached(dir: string, key: string, format: string): Buffer | null {
  try {
    return readFileSync(join(dir, `${key}.${format}`));
  } catch {
    return null;
  }
}

/** Best effort: a cache that cannot be written only costs a recompile next time. */
export function writeCached(dir: string, key: string, format: string, data: Uint8Array): void {
  try {
    mkdirSync(dir, { recursive: true });
    const final = join(dir, `${key}.${format}`);
    const tmp = `${final}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, data);
    renameSync(tmp, final);
  } catch {
    // read-only home, full disk: compile again next time
  }
}
