// Small coordination primitives for the pipeline's host side. None of them ever rejects on its
// own, so a run that stops early leaves no unhandled rejections behind.

export class Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  settled = false;
  constructor() {
    this.promise = new Promise<T>((res) => {
      this.resolve = (v: T) => {
        if (this.settled) return;
        this.settled = true;
        res(v);
      };
    });
  }
}

/** A FIFO with one consumer; shift() resolves undefined once closed and drained. */
export class AsyncQueue<T> {
  private items: T[] = [];
  private head = 0;
  private waiter: Deferred<void> | null = null;
  private closed = false;

  push(item: T): void {
    this.items.push(item);
    this.waiter?.resolve();
  }
  close(): void {
    this.closed = true;
    this.waiter?.resolve();
  }
  /** The next item if one is waiting (no promise made): the loops' fast path. */
  tryShift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  async shift(): Promise<T | undefined> {
    for (;;) {
      if (this.head < this.items.length) {
        const item = this.items[this.head]!;
        this.items[this.head++] = undefined as T;
        // Compact now and then so a long run does not keep every item reachable.
        if (this.head > 1024 && this.head * 2 > this.items.length) {
          this.items = this.items.slice(this.head);
          this.head = 0;
        }
        return item;
      }
      if (this.closed) return undefined;
      this.waiter = new Deferred();
      await this.waiter.promise;
      this.waiter = null;
    }
  }
}

/** Counting semaphore: at most `permits` holders at once, granted in request order. */
export class Semaphore {
  private waiting: Deferred<void>[] = [];
  constructor(private permits: number) {}
  /** Takes a permit if one is free, without making a promise. */
  tryAcquire(): boolean {
    if (this.permits > 0 && this.waiting.length === 0) {
      this.permits--;
      return true;
    }
    return false;
  }
  acquire(): Promise<void> {
    if (this.permits > 0) {
      this.permits--;
      return Promise.resolve();
    }
    const d = new Deferred<void>();
    this.waiting.push(d);
    return d.promise;
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next.resolve();
    else this.permits++;
  }
}

/** Thrown inside a run's loops when the run is stopping; never escapes the run. */
export class StopSignal extends Error {
  override readonly name = 'StopSignal';
}

/**
 * A stop switch: until(p) settles like p, or rejects with StopSignal once stop() was called.
 * Pending waits are kept in a set and dropped as they settle, so a run of a million chunks
 * does not pile reactions onto one long-lived promise.
 */
export class StopSwitch {
  stopped = false;
  private readonly pending = new Set<(err: StopSignal) => void>();
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const waiting = [...this.pending];
    this.pending.clear();
    for (const reject of waiting) reject(new StopSignal('run stopped'));
  }
  until<T>(p: Promise<T>): Promise<T> {
    if (this.stopped) {
      p.catch(() => {});
      return Promise.reject(new StopSignal('run stopped'));
    }
    return new Promise<T>((resolve, reject) => {
      this.pending.add(reject);
      p.then(
        (v) => {
          this.pending.delete(reject);
          resolve(v);
        },
        (err: unknown) => {
          this.pending.delete(reject);
          reject(err);
        },
      );
    });
  }
}

/** A counter that only grows; until(v) resolves once it reached v (never rejects). */
export class Watermark {
  value = 0;
  private waiters: { at: number; resolve: () => void }[] = [];
  advance(v: number): void {
    if (v <= this.value) return;
    this.value = v;
    if (this.waiters.length === 0) return;
    const still: { at: number; resolve: () => void }[] = [];
    for (const w of this.waiters) (w.at <= v ? w.resolve() : still.push(w));
    this.waiters = still;
  }
  until(v: number): Promise<void> {
    if (this.value >= v) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push({ at: v, resolve }));
  }
}
