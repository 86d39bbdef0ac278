// Where a job's output goes, and how it appears there only once complete. A job names a path
// under the worker's --out-root; one that leaves it (`../x`, an absolute path elsewhere, a
// symlink pointing out of it) is bad input, refused before anything is written. The job writes
// to a hidden temporary name in the same directory and renames it onto the real name only after
// the sink closed cleanly: a reader never sees a half-written file, and BullMQ's at-least-once
// delivery (a retry, a stalled job run again elsewhere) replaces the output whole instead of
// doubling it. Each attempt writes inside a hidden directory of its own whose name carries the
// job id (the output keeps its real name inside it, so ffmpeg picks the same container, and
// whatever the sink itself leaves there — its staging file, a partial output — goes with it):
// a failed attempt removes that directory, and the next attempt of the same job removes what a
// killed one left behind.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, realpath, rename, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { JobDataError } from './job-data.js';

const TEMP_PREFIX = '.tandem-tmp.';

export interface JobOutput {
  /** The absolute path the output ends up at. */
  final: string;
  /** The path relative to --out-root, as results report it. */
  relative: string;
  /** This attempt's hidden directory, beside the output: removed whole after a commit or a failure. */
  attempt: string;
  /** The path written while the job runs: the output's own name inside `attempt`. */
  temp: string;
  /** A directory of files (PNG sequence) rather than one file. */
  directory: boolean;
}

/** The root, resolved through symlinks once: every job's path is checked against this. */
export async function resolveOutRoot(outRoot: string): Promise<string> {
  return realpath(resolve(outRoot));
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/** Job ids are free text in BullMQ; in a file name only [A-Za-z0-9_] stay, the rest as ~hex. */
function idTag(jobId: string): string {
  return jobId.replace(/[^A-Za-z0-9_]/g, (c) => `~${c.codePointAt(0)!.toString(16)}`);
}

/**
 * Checks `out` against the root (already resolved by resolveOutRoot), creates its parent
 * directories and removes what an earlier attempt of the same job left; JobDataError when the
 * path leaves the root.
 */
export async function prepareJobOutput(
  root: string,
  out: string,
  jobId: string,
  directory: boolean,
): Promise<JobOutput> {
  const final = resolve(root, out);
  if (!inside(root, final))
    throw new JobDataError(`render job: out '${out}' is outside the worker's --out-root ${root}; give a path under it`);
  const dir = dirname(final);
  // The deepest directory that exists already must resolve inside the root: a symlink on the
  // way out of it is refused before mkdir could create anything out there.
  let existing = dir;
  for (;;) {
    const st = await lstat(existing).catch(() => null);
    if (st) break;
    existing = dirname(existing);
  }
  await checkResolvesInside(root, existing, out);
  await mkdir(dir, { recursive: true });
  await checkResolvesInside(root, dir, out);
  const st = await lstat(final).catch(() => null);
  if (st?.isSymbolicLink())
    throw new JobDataError(
      `render job: out '${out}' is a symbolic link; name a plain file or directory under --out-root`,
    );
  const tag = idTag(jobId);
  await removeLeftovers(dir, tag);
  const attempt = join(dir, `${TEMP_PREFIX}${tag}.${randomBytes(4).toString('hex')}`);
  await mkdir(attempt);
  return { final, relative: relative(root, final), attempt, temp: join(attempt, basename(final)), directory };
}

async function checkResolvesInside(root: string, path: string, out: string): Promise<void> {
  const real = await realpath(path);
  if (real !== root && !inside(root, real))
    throw new JobDataError(`render job: out '${out}' leads outside --out-root ${root} through a symbolic link`);
}

/** The attempt directories earlier attempts of the same job left (a killed worker's). */
async function removeLeftovers(dir: string, tag: string): Promise<void> {
  const prefix = `${TEMP_PREFIX}${tag}.`;
  for (const entry of await readdir(dir)) {
    if (entry.startsWith(prefix)) await rm(join(dir, entry), { recursive: true, force: true });
  }
}

/**
 * Puts the finished output in place — one rename for a file; a directory replaces an older one
 * whole — then removes the attempt's directory.
 */
export async function commitJobOutput(o: JobOutput): Promise<void> {
  const old = o.directory ? await lstat(o.final).catch(() => null) : null;
  if (old) {
    const aside = join(o.attempt, '.replaced');
    await rename(o.final, aside);
    await rename(o.temp, o.final);
  } else {
    await rename(o.temp, o.final);
  }
  await rm(o.attempt, { recursive: true, force: true });
}

/** Removes everything a failed or handed-back attempt wrote. */
export async function discardJobOutput(o: JobOutput): Promise<void> {
  await rm(o.attempt, { recursive: true, force: true });
}
