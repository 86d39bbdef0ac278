// Strategy 'worker' (the default): one worker thread per device polls pending events with
// cuEventQuery (completion-worker.ts) and posts each completion back. The event loop only
// receives messages and libuv's thread pool is left to fs. Measured figures and the comparison
// with the other strategies: see waiter.ts.
import { createRequire } from 'node:module';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { cudaError } from '../../cuda/driver.js';
import { CUDA_SUCCESS } from '../../cuda/constants.js';
import { COMPLETION_WORKER_SOURCE } from './completion-worker.js';
import type { EventWaiter } from './waiter.js';

interface Pending {
  resolve: () => void;
  reject: (e: Error) => void;
}

export class WorkerWaiter implements EventWaiter {
  readonly strategy = 'worker' as const;
  readonly #worker: Worker;
  readonly #port: MessagePort;
  readonly #signal = new Int32Array(new SharedArrayBuffer(4));
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed: Error | null = null;

  constructor(libraryPath: string, ctx: bigint) {
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    // The worker loads koffi by absolute path: an eval'd worker resolves modules from the cwd.
    const koffiPath = createRequire(import.meta.url).resolve('koffi');
    this.#worker = new Worker(COMPLETION_WORKER_SOURCE, {
      eval: true,
      name: 'tandem-event-completion',
      workerData: { koffiPath, libraryPath, ctx, port: port2, signal: this.#signal.buffer },
      transferList: [port2],
    });
    this.#port.on('message', this.#onMessage);
    this.#worker.on('error', (err) => this.close(err));
    this.#worker.on('exit', (code) => {
      if (!this.#closed) this.close(new Error(`the event-completion worker exited (code ${code})`));
    });
    this.#idle();
  }

  get pending(): number {
    return this.#pending.size;
  }

  wait(event: bigint): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
      if (this.#pending.size === 0) this.#busy();
      this.#pending.set(id, { resolve, reject });
      this.#port.postMessage({ id, event });
      Atomics.store(this.#signal, 0, 1);
      Atomics.notify(this.#signal, 0);
    });
  }

  close(reason: Error): void {
    if (this.#closed) return;
    this.#closed = reason;
    for (const p of this.#pending.values()) p.reject(reason);
    this.#pending.clear();
    try {
      this.#port.postMessage({ stop: true });
      Atomics.store(this.#signal, 0, 1);
      Atomics.notify(this.#signal, 0);
    } catch {
      // the worker is already gone
    }
    this.#port.close();
    this.#worker.unref();
  }

  readonly #onMessage = (msg: [number, number] | { fatal: number }): void => {
    if (!Array.isArray(msg)) {
      this.close(cudaError(msg.fatal, 'cuCtxSetCurrent', 'in the event-completion worker'));
      return;
    }
    const [id, rc] = msg;
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#idle();
    if (rc === CUDA_SUCCESS) p.resolve();
    else p.reject(cudaError(rc, 'cuEventQuery'));
  };

  // While nothing is pending neither the worker nor its port may keep the process alive; while
  // something is, they must (a script whose only work is `await event.completion()`).
  #busy(): void {
    this.#worker.ref();
    this.#port.ref();
  }

  #idle(): void {
    this.#worker.unref();
    this.#port.unref();
  }
}
