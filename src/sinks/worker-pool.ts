// A small pool of worker threads (built from source text) with a FIFO queue. Each task is one message in, one out; the
// pool keeps every worker busy while tasks wait, and a crashed worker fails only its own task.
// Idle workers are unref'd (an idle pool must not keep the process alive), busy ones are ref'd. Once close() starts,
// every worker is ref'd until it has exited: a task still encoding answers late, and that answer must neither start
// another task nor unref anything, or Node would find nothing keeping the event loop alive while close() (and the
// caller's top-level await behind it) is still pending, and exit with code 13 and no message.
import { Worker } from 'node:worker_threads';

interface Task {
  message: unknown;
  transfer: ArrayBuffer[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the task's own result type, known to run()'s caller
  resolve: (value: any) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  task: Task | null;
}

export class WorkerPool {
  readonly size: number;
  #slots: Slot[] = [];
  #queue: Task[] = [];
  #closed = false;

  constructor(
    private readonly source: string,
    size: number,
    private readonly label: string,
  ) {
    this.size = Math.max(1, Math.floor(size));
    for (let i = 0; i < this.size; i++) this.#slots.push(this.#spawn());
  }

  #spawn(): Slot {
    const slot: Slot = { worker: new Worker(this.source, { eval: true }), task: null };
    slot.worker.unref(); // an idle pool must not keep the process alive
    slot.worker.on('message', (msg: { error?: string; result?: unknown }) => {
      if (this.#closed) return; // close() rejected the task already and holds the worker ref'd until it exits
      const task = slot.task;
      slot.task = null;
      if (task) {
        if (msg.error !== undefined) task.reject(new Error(msg.error));
        else task.resolve(msg.result);
      }
      this.#pump();
    });
    slot.worker.on('error', (err) => {
      const task = slot.task;
      slot.task = null;
      task?.reject(new Error(`${this.label} worker crashed: ${err.message}`, { cause: err }));
      const i = this.#slots.indexOf(slot);
      if (i >= 0 && !this.#closed) {
        this.#slots[i] = this.#spawn();
        this.#pump();
      }
    });
    return slot;
  }

  #pump(): void {
    if (this.#closed) return;
    for (const slot of this.#slots) {
      if (slot.task || this.#queue.length === 0) continue;
      const task = this.#queue.shift()!;
      slot.task = task;
      slot.worker.ref(); // busy workers keep the process alive until they answer
      slot.worker.postMessage(task.message, task.transfer);
    }
    for (const slot of this.#slots) if (!slot.task) slot.worker.unref();
  }

  /** Runs one task; `transfer` buffers move to the worker (no copy). */
  run<T>(message: unknown, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`${this.label} worker pool is closed`));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ message, transfer, resolve, reject });
      this.#pump();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#queue.splice(0)) t.reject(new Error(`${this.label} worker pool closed`));
    for (const slot of this.#slots) {
      slot.task?.reject(new Error(`${this.label} worker pool closed while a task was running`));
      slot.task = null;
      slot.worker.ref(); // keeps the event loop alive until terminate() has settled
    }
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}
