// A full garbage collection on demand, for benchmarks: run between measured runs, it keeps the
// harness's own garbage (traced timelines, results) from being collected inside the next run.
// Node exposes gc() only with --expose-gc; setting the flag at run time exposes it to contexts
// created afterwards, so one new context hands the function over.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;

/** Runs a full (mark-compact) collection; false where the runtime refuses to expose one. */
export function collectGarbage(): boolean {
  if (gc === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    try {
      if (typeof exposed === 'function') gc = exposed;
      else {
        setFlagsFromString('--expose-gc');
        const fn: unknown = runInNewContext('gc');
        gc = typeof fn === 'function' ? (fn as () => void) : null;
      }
    } catch {
      gc = null;
    }
  }
  if (!gc) return false;
  gc();
  return true;
}
