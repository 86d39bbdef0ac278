// The run's inputs as one pull-style cursor: a count, an iterable or an async iterable.
import { UsageError } from '../util/errors.js';
import type { PipelineInput } from './types.js';

export interface InputCursor<I> {
  /** For a count or a sync iterable: the next item without a promise (throws what next() throws). */
  readonly nextSync: (() => IteratorResult<I>) | null;
  next(): Promise<IteratorResult<I>>;
  /** Tells an unfinished iterator to clean up (return()); never throws. */
  close(): void;
}

export function openInput<I>(inputs: PipelineInput<I>): InputCursor<I> {
  if (typeof inputs === 'number') {
    if (!Number.isSafeInteger(inputs) || inputs < 0)
      throw new UsageError(`the input count must be a non-negative integer, got ${inputs}`);
    let i = 0;
    // One result object, refilled per chunk: the run reads it at once and keeps only the value.
    const r = { value: 0 as I, done: false } as IteratorResult<I>;
    return {
      nextSync: () => {
        if (i < inputs) {
          r.value = i++ as I;
          r.done = false;
        } else {
          r.value = undefined as I;
          r.done = true;
        }
        return r;
      },
      next: () => Promise.resolve(i < inputs ? { value: i++ as I, done: false } : { value: undefined, done: true }),
      close: () => {},
    };
  }
  if (inputs && typeof (inputs as AsyncIterable<I>)[Symbol.asyncIterator] === 'function')
    return cursor(iteratorOf(inputs, Symbol.asyncIterator), false);
  if (inputs && typeof (inputs as Iterable<I>)[Symbol.iterator] === 'function')
    return cursor(iteratorOf(inputs, Symbol.iterator), true);
  throw new UsageError('inputs must be a count, an iterable or an async iterable');
}

/** The iterator `inputs[key]()` returns, checked to be one before the run allocates anything. */
function iteratorOf<I>(inputs: object, key: typeof Symbol.iterator | typeof Symbol.asyncIterator): Iterator<I> {
  const name = key === Symbol.iterator ? '[Symbol.iterator]()' : '[Symbol.asyncIterator]()';
  let it: unknown;
  try {
    it = (inputs as Record<symbol, () => unknown>)[key]!();
  } catch (err) {
    throw new UsageError(`inputs: ${name} threw: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  if (!it || typeof it !== 'object' || typeof (it as Iterator<I>).next !== 'function')
    throw new UsageError(`inputs: ${name} must return an iterator (an object with next()), got ${show(it)}`);
  return it as Iterator<I>;
}

/**
 * One result of next(), checked against the iterator protocol: an object, and from a sync
 * iterator not a promise (an async iterator under the wrong key). A bad result fails the run's
 * input stage with a UsageError rather than being read as an item `undefined`.
 */
function checked<I>(x: unknown, sync: boolean): IteratorResult<I> {
  if (!x || typeof x !== 'object')
    throw new UsageError(`inputs: the iterator's next() returned ${show(x)}, not a { value, done } object`);
  if (sync && typeof (x as PromiseLike<unknown>).then === 'function')
    throw new UsageError(
      "inputs: the iterator's next() returned a promise; " +
        'an input produced asynchronously must be an async iterable ([Symbol.asyncIterator], an async function*)',
    );
  return x as IteratorResult<I>;
}

function show(x: unknown): string {
  return x === null || typeof x !== 'object' ? `${typeof x} ${String(x)}` : 'an object';
}

function cursor<I>(it: Iterator<I> | AsyncIterator<I>, sync: boolean): InputCursor<I> {
  let finished = false;
  return {
    nextSync: sync
      ? () => {
          try {
            const x = checked<I>((it as Iterator<I>).next(), true);
            if (x.done) finished = true;
            return x;
          } catch (err) {
            finished = true;
            throw err;
          }
        }
      : null,
    next: () => {
      let r: IteratorResult<I> | Promise<IteratorResult<I>>;
      try {
        r = it.next();
        if (sync) r = checked<I>(r, true);
      } catch (err) {
        finished = true;
        return Promise.reject(err);
      }
      return Promise.resolve(r).then(
        (x) => {
          x = checked<I>(x, false);
          if (x.done) finished = true;
          return x;
        },
        (err: unknown) => {
          finished = true;
          throw err;
        },
      );
    },
    close: () => {
      if (finished) return;
      finished = true;
      try {
        const r = it.return?.();
        if (r && typeof (r as Promise<unknown>).then === 'function') (r as Promise<unknown>).catch(() => {});
      } catch {
        // The iterator's own clean-up failed; the run's outcome is already decided.
      }
    },
  };
}
