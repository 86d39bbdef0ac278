// One worker process: one device, opened once and kept for the process's life, one BullMQ Worker
// with concurrency 1 on it. Shutdown (SIGTERM, SIGINT, or stop()): take no new job, let the
// current one finish, or abort it after `graceMs` and hand it back to the queue, then close
// the worker's Redis connections and the device. A killed process leaves its job's lock to
// expire; BullMQ's stalled-job check on another worker then puts the job back in the queue.
import { Worker, type ConnectionOptions } from 'bullmq';
import { hostname } from 'node:os';
import { basename, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Device } from '../pipeline/device.js';
import { CudaError } from '../cuda/errors.js';
import { UsageError } from '../util/errors.js';
import { PipelineError } from '../pipeline/errors.js';
import { resolveOutRoot } from './output.js';
import { createProcessor, type JobHandler } from './processor.js';
import { WarmWorkloads } from './render-job.js';

export interface WorkerOptions {
  connection: ConnectionOptions;
  queue: string;
  /** Where render jobs (and processors, by convention) write; must exist. */
  outRoot: string;
  /** CUDA ordinal, or the fake device's ordinal with `fake`. */
  device: number;
  fake?: boolean;
  /** Modules of user job types (see JobHandler). */
  processors?: readonly string[];
  /** How long shutdown waits for the current job before handing it back (ms, default 300 000). */
  graceMs?: number;
  /** BullMQ's job lock: a job whose worker stops renewing it for this long is stalled (ms, default 30 000). */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs (ms, default 30 000). */
  stalledIntervalMs?: number;
  /** Stalls before a job fails instead of going back to the queue (default 2). */
  maxStalledCount?: number;
  log?: (line: string) => void;
}

export interface RunningWorker {
  readonly worker: Worker;
  readonly device: Device;
  /** Starts the shutdown (idempotent); resolves once the device is closed. */
  stop(): Promise<void>;
  /** Aborts the running job now and hands it back to the queue (a second SIGTERM). */
  handBack(): void;
  /** Resolves when the worker has stopped, with the process exit code to use. */
  readonly stopped: Promise<number>;
}

/** Loads `--processor` modules: type → handler. */
export async function loadProcessors(paths: readonly string[]): Promise<Map<string, JobHandler>> {
  const handlers = new Map<string, JobHandler>();
  for (const p of paths) {
    const file = resolve(p);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`--processor ${p}: cannot load it: ${(err as Error).message}`);
    }
    const handler = mod.default ?? mod.handler;
    if (typeof handler !== 'function')
      throw new UsageError(`--processor ${p}: export the job handler as default (or as 'handler')`);
    const type = typeof mod.type === 'string' ? mod.type : basename(file, extname(file));
    if (type === 'render')
      throw new UsageError(`--processor ${p}: 'render' is the built-in job type; choose another type`);
    if (handlers.has(type)) throw new UsageError(`--processor ${p}: two processors for job type '${type}'`);
    handlers.set(type, handler as JobHandler);
  }
  return handlers;
}

async function openWorkerDevice(o: WorkerOptions): Promise<Device> {
  if (o.fake) {
    const { FakeDevice } = await import('../testing/index.js');
    return new FakeDevice({ name: 'tandem fake device (--fake)', ordinal: o.device });
  }
  const { open } = await import('../pipeline/device.js');
  return open(o.device);
}

export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const log = o.log ?? (() => {});
  let outRoot: string;
  try {
    outRoot = await resolveOutRoot(o.outRoot);
  } catch (err) {
    throw new UsageError(
      `--out-root ${o.outRoot} does not exist or cannot be read (${(err as Error).message}); create it first`,
    );
  }
  const handlers = await loadProcessors(o.processors ?? []);
  const device = await openWorkerDevice(o);
  const warm = new WarmWorkloads();
  const handBack = new AbortController();
  let exitCode = 0;
  let lostDevice = false;
  const worker = new Worker(
    o.queue,
    createProcessor({ device, outRoot, warm, handlers, handBack: handBack.signal, log }),
    {
      connection: o.connection,
      // job.processedBy: which host, process and device ran a job.
      name: `${hostname()}:${process.pid}:${o.fake ? 'fake' : 'cuda'}${o.device}`,
      concurrency: 1,
      lockDuration: o.lockDurationMs ?? 30_000,
      stalledInterval: o.stalledIntervalMs ?? 30_000,
      maxStalledCount: o.maxStalledCount ?? 2,
      autorun: false,
    },
  );
  // Redis going away is reported here and retried by ioredis (a lost lock too: the stalled
  // check gives that job to a worker again); nothing to do but say so, once per kind.
  let lastError = '';
  worker.on('error', (err) => {
    if (err.message !== lastError) log(`queue: ${err.message}`);
    lastError = err.message;
  });
  worker.on('failed', (job, err) => {
    if (!job || err.name === 'WaitingError') return;
    log(`job ${job.id} (${job.name}) failed: ${err.message}`);
    // A lost CUDA context cannot run another job: leave, so a supervisor starts a fresh process.
    const cause = err instanceof PipelineError ? err.cause : err;
    if (cause instanceof CudaError && cause.sticky && !lostDevice) {
      lostDevice = true;
      exitCode = 1;
      void stop();
    }
  });
  const handBackNow = () => handBack.abort(new Error('worker shutting down: job handed back'));
  let stopping: Promise<void> | null = null;
  let resolveStopped!: (code: number) => void;
  const stopped = new Promise<number>((r) => (resolveStopped = r));
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const grace = o.graceMs ?? 300_000;
      const timer = setTimeout(handBackNow, grace);
      try {
        await worker.close();
      } finally {
        clearTimeout(timer);
        warm.close();
        await device.synchronize().catch(() => {});
        device.close();
        resolveStopped(exitCode);
      }
    })();
    return stopping;
  };
  void worker.run().catch((err: Error) => {
    log(`worker stopped: ${err.message}`);
    exitCode = 1;
    void stop();
  });
  return { worker, device, stop, stopped, handBack: handBackNow };
}
