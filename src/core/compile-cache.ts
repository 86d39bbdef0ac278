// On-disk cache of NVRTC output: compiling costs far more than loading a cached cubin.
// Keyed by sha256 of everything that changes the binary (source, options, architecture, NVRTC
// version); written to a temporary name and renamed so a concurrent reader never sees half.
// Each entry starts with one header line that names its key, format, length and the sha256 of the binary; an entry
// is loaded only when all four match what the reader asked for and found, so a truncated, corrupted or renamed file
// (or one from another tool) is a miss and the kernel is compiled again, never handed to the driver as found.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { makeDirectory } from '../util/make-directory.js';

const MAGIC = 'tandem-kernel-cache 1';

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

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function header(key: string, format: string, data: Uint8Array): string {
  return `${MAGIC} ${key} ${format} ${data.byteLength} ${sha256(data)}\n`;
}

/** The binary stored for `key`, or null when there is none or it does not verify (see the header above). */
export function readCached(dir: string, key: string, format: string): Buffer | null {
  let file: Buffer;
  try {
    file = readFileSync(join(dir, `${key}.${format}`));
  } catch {
    return null;
  }
  const eol = file.indexOf(0x0a);
  if (eol < 0 || eol > 512) return null;
  const fields = file.subarray(0, eol).toString('latin1').split(' ');
  const data = file.subarray(eol + 1);
  const [magic, version, storedKey, storedFormat, length, digest] = fields;
  if (fields.length !== 6 || `${magic} ${version}` !== MAGIC) return null;
  if (storedKey !== key || storedFormat !== format) return null;
  if (length !== String(data.byteLength) || digest !== sha256(data)) return null;
  return data;
}

/** Best effort: a cache that cannot be written only costs a recompile next time. */
export function writeCached(dir: string, key: string, format: string, data: Uint8Array): void {
  try {
    makeDirectory(dir);
    const final = join(dir, `${key}.${format}`);
    const tmp = `${final}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, Buffer.concat([Buffer.from(header(key, format, data), 'latin1'), data]));
    renameSync(tmp, final);
  } catch {
    // read-only home, full disk, a directory that cannot be made: compile again next time
  }
}
