// Sink failures name the sink, the chunk, the file and what to change. File-system codes a user
// can act on (missing directory, permissions, full disk, file too large) get their own advice.
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { TandemError } from '../util/errors.js';

/** A sink failed: the sink, the chunk (or null), what to change. Code 'SINK_OUTPUT_INVALID' when the
 * finished output failed its check (see ffmpeg.ts), 'SINK_FAILED' otherwise. */
export class SinkError extends TandemError {
  override readonly name: string = 'SinkError';
  /** The pipeline stage a sink failure belongs to. */
  readonly stage = 'sink';
  constructor(
    readonly sink: string,
    /** The chunk being written, or null when the failure is not tied to one (open, close). */
    readonly chunkIndex: number | null,
    message: string,
    options?: { cause?: unknown; code?: string },
  ) {
    super(
      options?.code ?? 'SINK_FAILED',
      `${sink} sink${chunkIndex === null ? '' : `, chunk ${chunkIndex}`}: ${message}`,
      options,
    );
  }
}

/** One line for a file-system error on `path`, with the fix. */
export function describeFsError(err: unknown, path: string): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return `${dirname(path)} does not exist (ENOENT writing ${path}): create it (mkdir -p ${dirname(path)}) or choose another output`;
    case 'ENOTDIR':
      return `a part of ${path} is a file, not a directory (ENOTDIR): choose another output path`;
    case 'EACCES':
    case 'EPERM':
      return `no permission to write ${path} (${e.code}): choose a directory you can write to or fix its permissions`;
    case 'EROFS':
      return `${path} is on a read-only file system (EROFS): write somewhere else`;
    case 'ENOSPC':
      return `the disk is full (ENOSPC writing ${path}): free space or write to another disk`;
    case 'EDQUOT':
      return `disk quota exceeded (EDQUOT writing ${path}): free space or write elsewhere`;
    case 'EFBIG':
      return `file too large (EFBIG writing ${path}): the file system or 'ulimit -f' caps the file size; write one file per chunk or to another file system`;
    case 'EISDIR':
      return `${path} is a directory (EISDIR): give a file name`;
    case 'EMFILE':
    case 'ENFILE':
      return `too many open files (${e.code}): raise 'ulimit -n' or lower the sink concurrency`;
    default:
      return `${e?.code ? `${e.code}: ` : ''}${e?.message ?? String(err)} (${path})`;
  }
}

/** Checks that `dir` exists, is a directory and is writable, before any GPU work starts. */
export async function checkWritableDir(sink: string, dir: string): Promise<void> {
  const abs = resolve(dir);
  let s;
  try {
    s = await stat(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SinkError(
        sink,
        null,
        `output directory ${abs} does not exist: create it (mkdir -p ${dir}) or choose another output`,
        { cause: err },
      );
    }
    throw new SinkError(sink, null, describeFsError(err, abs), { cause: err });
  }
  if (!s.isDirectory()) throw new SinkError(sink, null, `${abs} is not a directory: choose another output path`);
  try {
    await access(abs, fsConstants.W_OK);
  } catch (err) {
    throw new SinkError(
      sink,
      null,
      `output directory ${abs} is not writable (${(err as NodeJS.ErrnoException).code}): choose a directory you can write to or fix its permissions`,
      { cause: err },
    );
  }
}
