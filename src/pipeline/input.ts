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
  if (inputs && typeof (inputs as AsyncIterable<I>)[Symbol.asyncIterator] === 'function') {
    return cursor((inputs as AsyncIterable<I>)[Symbol.asyncIterator](), false);
  }
  if (inputs && typeof (inputs as Iterable<I>)[Symbol.iterator] === 'function') {
    return cursor((inputs as Iterable<I>)[Symbol.iterator](), true);
  }
  throw new UsageError('inputs must be a count, an iterable or an async iterable');
}

function cursor<I>(it: Iterator<I> | AsyncIterator<I>, sync: boolean): InputCursor<I> {
  let finished = false;
  return {
    nextSync: sync
      ? () => {
          try {
            const x = (it as Iterator<I>).next();
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
      } catch (err) {
        finished = true;
        return Promise.reject(err);
      }
      const p = sync ? Promise.resolve(r) : Promise.resolve(r as Promise<IteratorResult<I>>);
      return p.then(
        (x) => {
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
