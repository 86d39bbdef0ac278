// `mkdir -p` that always ends. Node's own recursive mkdir takes ENOENT to mean "the parent is missing", creates the
// parent (EEXIST: fine) and tries again; a parent that exists but refuses new entries with ENOENT (procfs: /proc/nope)
// makes that loop forever at full CPU, sync or async. Here each missing component is created once, from the deepest
// existing ancestor down, and any refusal is final: a MakeDirectoryError names the path, the component and the fix.
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { TandemError } from './errors.js';

/** A directory could not be created; `code` is the errno code (ENOENT, EACCES, ENOTDIR, EROFS …). */
export class MakeDirectoryError extends TandemError {
  override readonly name: string = 'MakeDirectoryError';
  constructor(
    /** The directory that was asked for. */
    readonly path: string,
    /** The component that could not be created (or is not a directory). */
    readonly component: string,
    code: string,
    options?: { cause?: unknown },
  ) {
    const why =
      code === 'ENOTDIR'
        ? `${component} is not a directory`
        : code === 'ENOENT'
          ? `${dirname(component)} exists but does not accept new entries (a virtual file system such as /proc or /sys, or a dangling link)`
          : code === 'EACCES' || code === 'EPERM'
            ? `no permission to create ${component}`
            : code === 'EROFS'
              ? `${component} is on a read-only file system`
              : `creating ${component} failed`;
    super(code, `cannot create directory ${path}: ${why} (${code}); choose another directory`, options);
  }
}

function isDirectory(path: string): boolean | null {
  try {
    return statSync(path).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
      return null;
    throw err;
  }
}

/** Creates `path` and its missing parents; returns at once when it is a directory already. */
export function makeDirectory(path: string): void {
  const target = resolve(path);
  const missing: string[] = [];
  let at = target;
  for (;;) {
    let dir: boolean | null;
    try {
      dir = isDirectory(at);
    } catch (err) {
      throw new MakeDirectoryError(target, at, (err as NodeJS.ErrnoException).code ?? 'EIO', { cause: err });
    }
    if (dir === true) break;
    if (dir === false) throw new MakeDirectoryError(target, at, 'ENOTDIR');
    missing.push(at);
    const parent = dirname(at);
    if (parent === at) break; // the root itself is missing: mkdir below says why
    at = parent;
  }
  for (const component of missing.reverse()) {
    try {
      mkdirSync(component);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      // Another process made it meanwhile: fine if it is a directory.
      if (code === 'EEXIST' && isDirectory(component) === true) continue;
      throw new MakeDirectoryError(target, component, code === 'EEXIST' ? 'ENOTDIR' : code, { cause: err });
    }
  }
}
