// Keeps a CUevent alive while waiters still poll it: close() marks the owner closed at once,
// but the handle is destroyed only when the last in-flight wait settles (destroying an event
// another thread is querying is undefined behaviour in the driver).
export class InFlight {
  #count = 0;
  #onDrained: (() => void) | null = null;

  /**
   * `owner` is captured by the settle callback, so while the wait is pending the owner stays
   * reachable from the waiter and its finalizer cannot destroy the handle being polled.
   */
  track<T>(p: Promise<T>, owner: object): Promise<T> {
    this.#count++;
    const done = () => {
      void owner;
      this.leave();
    };
    p.then(done, done);
    return p;
  }

  /** track() without a promise: the caller calls leave() exactly once when its wait settles. */
  enter(): void {
    this.#count++;
  }

  leave(): void {
    if (--this.#count === 0 && this.#onDrained) {
      const f = this.#onDrained;
      this.#onDrained = null;
      runQuietly(f);
    }
  }

  /** Runs `destroy` now, or once the in-flight waits have settled. */
  whenDrained(destroy: () => void): void {
    if (this.#count === 0) destroy();
    else this.#onDrained = destroy;
  }
}

/** Deferred destruction has no caller left to throw to (it runs from a promise reaction). */
function runQuietly(f: () => void): void {
  try {
    f();
  } catch {
    // the context is gone or the handle already freed with it
  }
}
