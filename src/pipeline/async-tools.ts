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
    // Compact now and then so a long run does not keep every item reachable.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  async shift(): Promise<T | undefined> {
    for (;;) {
      if (this.head < this.items.length) return this.tryShift();
      if (this.closed) return undefined;
      this.waiter = new Deferred();
      await this.waiter.promise;
      this.waiter = null;
    }
  }
}

/**
 * A FIFO without promises, for the pump's stage queues: push, peek, shift. The backing array is
 * compacted now and then so a long run does not keep every item reachable.
 */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      // Empty: start over in place (no new array).
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
