// The device's event waiter: two phases per wait.
//   1. Spin: while completions keep arriving (a pipeline run is active), poll pending events with
//      cuEventQuery from the event loop itself, one round per setImmediate, no back-off. A query
//      costs well under a microsecond while a message from a thread costs tens, so a host that
//      waits on chunk n − depth to enqueue chunk n learns of the completion soon enough to keep
//      the copy engine fed. A round also gives I/O its turn (the loop's poll phase runs between
//      rounds). While hot (a completion seen within HOT_MS) a round keeps querying for about
//      BUSY_MS before it yields: each setImmediate turn allocates, and a turn every few
//      microseconds makes enough garbage for young-generation pauses that idle the copy engine.
//      I/O and timers wait at most about BUSY_MS longer for their turn. The round counts queries
//      rather than reading the clock as it goes (performance.now() allocates its result); the
//      query budget is re-estimated from each full round.
//   2. Worker: once SPIN_MS pass with no wait started and no completion seen (a long kernel, an
//      idle device), the events still pending go to a worker thread that polls them
//      (completion-worker.ts) and posts each completion back, so an idle wait costs the loop and
//      libuv's pool nothing. cuEventSynchronize on the pool is not used: it holds one pool
//      thread per pending event, and the pool runs the sink stage's file I/O.
import { createRequire } from 'node:module';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { cudaError, type Driver } from '../../cuda/driver.js';
import { CUDA_SUCCESS } from '../../cuda/constants.js';
import { COMPLETION_WORKER_SOURCE } from './completion-worker.js';
import { rejectLater, sweepEvents, type PendingWait } from './sweep.js';
import type { EventWaiter } from './waiter.js';

interface Pending {
  resolve: () => void;
  reject: (e: Error) => void;
}

type Spinning = PendingWait;

/**
 * How long the event loop keeps polling after the last wait started or completion was seen:
 * longer than a chunk's stage time at the chunk sizes pipelines use, so a running pipeline never
 * drops to the worker's latency; short enough that waiting for a long kernel burns at most this
 * much of the loop's CPU.
 */
export const SPIN_MS = 5;

/** How long one hot round may keep querying before it yields to the event loop (ms). */
export const BUSY_MS = 0.025;

/** Hot: a completion was seen or a wait started within this many ms. */
const HOT_MS = 1;

/** Bounds of a hot round's query budget: a round stays between a few microseconds and a couple of milliseconds. */
const MIN_QUERIES = 16;
const MAX_QUERIES = 4096;

export class WorkerWaiter implements EventWaiter {
  readonly #worker: Worker;
  readonly #port: MessagePort;
  /** [0]: wake the worker; [1]: stop it. */
  readonly #signal = new Int32Array(new SharedArrayBuffer(8));
  readonly #pending = new Map<number, Pending>();
  #spinning: Spinning[] = [];
  /** When the last wait started or completion was seen (performance.now()). */
  #lastActivity = 0;
  /** cuEventQuery calls a hot round makes before it yields: about BUSY_MS at the last round's pace. */
  #busyQueries = 64;
  #scheduled = false;
  #nextId = 1;
  #closed: Error | null = null;
  /** The worker has loaded koffi and the driver (its { ready } or { fatal } message came). */
  #ready = false;

  constructor(
    private readonly driver: Driver,
    ctx: bigint,
  ) {
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    // The worker loads koffi by absolute path: an eval'd worker resolves modules from the cwd.
    const koffiPath = createRequire(import.meta.url).resolve('koffi');
    this.#worker = new Worker(COMPLETION_WORKER_SOURCE, {
      eval: true,
      // The source is CommonJS, whatever the process was started with (--input-type=module would
      // make an eval'd worker read it as a module); the worker needs no flags of its own.
      execArgv: [],
      name: 'tandem-event-completion',
      workerData: { koffiPath, libraryPath: driver.libraryPath, ctx, port: port2, signal: this.#signal.buffer },
      transferList: [port2],
    });
    this.#port.on('message', this.#onMessage);
    this.#worker.on('error', (err) => this.close(err));
    this.#worker.on('exit', (code) => {
      if (!this.#closed) this.close(new Error(`the event-completion worker exited (code ${code})`));
    });
    // Referenced until ready: see completion-worker.ts.
  }

  get pending(): number {
    return this.#pending.size + this.#spinning.length;
  }

  wait(event: bigint): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise<void>((resolve, reject) => {
      this.#spinning.push({ event, resolve, reject });
      this.#lastActivity = performance.now();
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#tick);
      }
    });
  }

  watch(w: PendingWait): void {
    if (this.#closed) return rejectLater(w, this.#closed);
    this.#spinning.push(w);
    this.#lastActivity = performance.now();
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#tick);
    }
  }

  close(reason: Error): void {
    if (this.#closed) return;
    this.#closed = reason;
    for (const p of this.#spinning) p.reject(reason);
    this.#spinning = [];
    for (const p of this.#pending.values()) p.reject(reason);
    this.#pending.clear();
    Atomics.store(this.#signal, 1, 1);
    Atomics.store(this.#signal, 0, 1);
    Atomics.notify(this.#signal, 0);
    this.#port.close();
    // A worker still starting keeps the process alive until it has started and seen the stop.
    if (this.#ready) this.#worker.unref();
  }

  readonly #tick = (): void => {
    // #scheduled stays true while the round runs: a wait that a callback below starts (watch()
    // calls back from inside the sweep) joins #spinning without scheduling a second round.
    if (this.#closed) {
      this.#scheduled = false;
      return;
    }
    const query = this.driver.cuEventQuery;
    let done = sweepEvents(query, this.#spinning);
    let now = performance.now();
    if (done === 0 && now - this.#lastActivity < HOT_MS) {
      // Sweep until something completes or the query budget is spent, then read the clock once.
      const from = now;
      const budget = this.#busyQueries;
      let queries = 0;
      while (done === 0 && this.#spinning.length > 0 && queries < budget) {
        queries += this.#spinning.length;
        done = sweepEvents(query, this.#spinning);
      }
      now = performance.now();
      if (done === 0 && queries >= budget) {
        // A full round: fit the next one to BUSY_MS at this round's pace.
        const ms = now - from;
        const fit = ms > 0 ? Math.round((queries * BUSY_MS) / ms) : budget * 2;
        this.#busyQueries = Math.min(MAX_QUERIES, Math.max(MIN_QUERIES, fit));
      }
    }
    // Waits started by callbacks (watch(): above; promises: later, as microtasks) are on #spinning.
    const still = this.#spinning;
    if (still.length === 0) {
      this.#scheduled = false;
      return;
    }
    if (done > 0) this.#lastActivity = now;
    if (now - this.#lastActivity < SPIN_MS) {
      setImmediate(this.#tick);
      return;
    }
    this.#scheduled = false;
    this.#spinning = [];
    for (const p of still) this.#toWorker(p);
  };

  #toWorker(p: Spinning): void {
    const id = this.#nextId++;
    if (this.#pending.size === 0) this.#busy();
    this.#pending.set(id, { resolve: p.resolve, reject: p.reject });
    this.#port.postMessage({ id, event: p.event });
    Atomics.store(this.#signal, 0, 1);
    Atomics.notify(this.#signal, 0);
  }

  readonly #onMessage = (msg: [number, number] | { ready: true } | { fatal: number }): void => {
    if (!Array.isArray(msg)) {
      this.#ready = true;
      if ('fatal' in msg) this.close(cudaError(msg.fatal, 'cuCtxSetCurrent', 'in the event-completion worker'));
      else if (this.#pending.size === 0) this.#idle();
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

  // While nothing is pending on it neither the worker nor its port may keep the process alive;
  // while something is, they must (a script whose only work is `await event.completion()`), and
  // so must a worker that has not finished starting. The spin phase keeps the process alive by
  // its own setImmediate.
  #busy(): void {
    this.#worker.ref();
    this.#port.ref();
  }

  #idle(): void {
    if (!this.#ready) return;
    this.#worker.unref();
    this.#port.unref();
  }
}
