// Where a file sink writes while the run is going, and what it leaves behind. The rule, the same for every file sink:
// - the output is written under a hidden temporary name in the same directory (.zoom.tandem-<pid>-<hex>.mp4; for a
//   PNG sequence, the directory .tandem-<pid>-<hex>/ inside the output directory) and renamed to its final name only
//   once it is complete and verified. The final name therefore never holds a zero-length, cut-off or mixed file, and
//   two runs writing the same path each publish a whole output (the one that finishes last is what stays).
// - a run that does not complete (a failure, an interrupt, a closed pipe) renames what it wrote to the partial name:
//   zoom.partial.mp4, video.partial.raw, frames/partial/. An ffmpeg output is finalised first, so a partial video is
//   playable wherever ffmpeg could write its trailer. Nothing written (zero bytes) leaves nothing.
// - only a process killed outright (SIGKILL, a power cut) leaves the temporary name behind; its pid is in the name.
// - an output that exists and is not a regular file (a device such as /dev/null, a named pipe) is written in place:
//   there is nothing to rename.
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, statSync } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

export interface StagedFile {
  /** The name the complete output gets. */
  final: string;
  /** The hidden name written while the run is going (same directory, same extension). */
  temp: string;
  /** The name a run that did not complete leaves its output under. */
  partial: string;
}

function tag(): string {
  return `tandem-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** stagedFile(final), or null when `final` is a device or a pipe, written in place. */
export async function stagingFor(final: string): Promise<StagedFile | null> {
  const s = await stat(final).catch(() => null);
  return s && !s.isFile() && !s.isDirectory() ? null : stagedFile(final);
}

/** Names for a single-file output (raw, ffmpeg): the extension is kept, so ffmpeg still picks the container. */
export function stagedFile(final: string): StagedFile {
  const dir = dirname(final);
  const ext = extname(final);
  const stem = basename(final, ext);
  return { final, temp: join(dir, `.${stem}.${tag()}${ext}`), partial: join(dir, `${stem}.partial${ext}`) };
}

/** Names for a PNG sequence: frames go to a hidden directory inside `dir`, then move up into `dir`. */
export function stagedDirectory(dir: string): StagedFile {
  return { final: dir, temp: join(dir, `.${tag()}`), partial: join(dir, 'partial') };
}

/** Bytes under `path` (a file's size, or the sum over a directory's files); null when it does not exist. */
export async function bytesAt(path: string): Promise<number | null> {
  try {
    const s = await stat(path);
    if (!s.isDirectory()) return s.size;
    const { readdir } = await import('node:fs/promises');
    let n = 0;
    for (const name of await readdir(path)) n += (await bytesAt(join(path, name))) ?? 0;
    return n;
  } catch {
    return null;
  }
}

/**
 * Keeps what a run that did not complete wrote under the partial name (replacing an older partial) and says where and
 * how much; removes it and returns null when it is empty or missing, or could not be moved. Never throws: it runs
 * while another error is being reported.
 */
export async function keepPartial(
  staged: StagedFile,
): Promise<{ path: string; bytes: number; complete: false } | null> {
  try {
    const bytes = await bytesAt(staged.temp);
    if (!bytes) {
      await rm(staged.temp, { recursive: true, force: true });
      return null;
    }
    await rm(staged.partial, { recursive: true, force: true });
    await rename(staged.temp, staged.partial);
    return { path: staged.partial, bytes, complete: false };
  } catch {
    return null;
  }
}

/** keepPartial for a process about to exit (a second Ctrl-C): synchronous, never throws. */
export function keepPartialSync(staged: StagedFile): string | null {
  try {
    const s = statSync(staged.temp);
    if (!s.isDirectory() && s.size === 0) {
      rmSync(staged.temp, { force: true });
      return null;
    }
    rmSync(staged.partial, { recursive: true, force: true });
    renameSync(staged.temp, staged.partial);
    return staged.partial;
  } catch {
    return null;
  }
}
