// The function BullMQ calls for each job on a worker: dispatch on the job's type (the built-in
// `render`, or a user processor), progress through job.updateProgress, the stats summary as the
// return value, and errors sorted into the two kinds a queue must tell apart: bad input
// (UnrecoverableError: failed at once, never retried) and everything else (retried with
// backoff). While the job runs, the event loop's delay is sampled; its worst value goes into the
// result, since BullMQ renews the job's lock from this same loop.
import { UnrecoverableError, WaitingError, type Job, type Processor } from 'bullmq';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Device } from '../pipeline/device.js';
import { UsageError } from '../util/errors.js';
import { PipelineError } from '../pipeline/errors.js';
import { jobType } from './job-data.js';
import { runRenderJob, type WarmWorkloads } from './render-job.js';

/** What a user processor gets besides the job's data. */
export interface JobContext {
  /** The worker's device, open for its whole life: kernels and buffers made on it may be kept between jobs. */
  device: Device;
  /** Aborted when the worker hands the job back (SIGTERM past --grace) or BullMQ cancels it. */
  signal: AbortSignal;
  /** Reports progress (BullMQ job progress); calls are throttled, the last one always sent. */
  progress(value: Record<string, unknown> | number): void;
  /** --out-root, resolved: where a processor should write. */
  outRoot: string;
  job: Job;
}

/**
 * A user job type: `tandem worker --processor ./my-job.js` imports the module; its default
 * export (or `handler`) runs each job whose type is the module's `type` export (or, without one,
 * the file name without its extension). Throwing a UsageError (or any error named 'UsageError',
 * or a BullMQ UnrecoverableError) fails the job at once; other errors are retried.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- job data is whatever the submitter sent
export type JobHandler = (data: any, context: JobContext) => unknown | Promise<unknown>;

export interface EventLoopDelay {
  /** Worst delay of a 10 ms timer while the job ran (ms). */
  maxMs: number;
  p99Ms: number;
  meanMs: number;
}

export interface ProcessorOptions {
  device: Device;
  outRoot: string;
  warm: WarmWorkloads;
  handlers: ReadonlyMap<string, JobHandler>;
  /** Aborts the running job to hand it back to the queue (graceful shutdown past --grace). */
  handBack: AbortSignal;
  /** Minimum ms between progress updates (default 250). */
  progressIntervalMs?: number;
  log?: (line: string) => void;
}

export function createProcessor(options: ProcessorOptions): Processor {
  const interval = options.progressIntervalMs ?? 250;
  return async (job, token, bullSignal) => {
    const type = jobType(job.data);
    const handler = type === 'render' ? null : options.handlers.get(type);
    if (type !== 'render' && !handler) {
      const known = ['render', ...options.handlers.keys()].join(', ');
      throw new UnrecoverableError(`unknown job type '${type}': this worker runs ${known}`);
    }
    // One controller per job, aborted by either source; its listeners come off the worker-wide
    // hand-back signal when the job ends, so they do not pile up over thousands of jobs.
    const ac = new AbortController();
    const signal = ac.signal;
    const sources = [options.handBack, ...(bullSignal ? [bullSignal] : [])];
    const onAbort = (e: Event) => ac.abort((e.target as AbortSignal).reason);
    for (const s of sources) {
      if (s.aborted) ac.abort(s.reason);
      else s.addEventListener('abort', onAbort, { once: true });
    }
    const progress = throttledProgress(job, interval);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const t0 = performance.now();
    try {
      const result = handler
        ? await handler(job.data, { device: options.device, signal, progress, outRoot: options.outRoot, job })
        : await runRenderJob(job.data, {
            jobId: job.id ?? 'job',
            device: options.device,
            outRoot: options.outRoot,
            warm: options.warm,
            signal,
            progress,
          });
      await progress.flush();
      const eventLoopDelay = readDelay(delay);
      const summary = { ...(isRecord(result) ? result : { value: result }), eventLoopDelay };
      options.log?.(
        `job ${job.id} (${type}) done in ${((performance.now() - t0) / 1000).toFixed(2)} s, worst event-loop delay ${eventLoopDelay.maxMs.toFixed(1)} ms`,
      );
      return summary;
    } catch (err) {
      await progress.flush().catch(() => {});
      if (options.handBack.aborted && token) {
        // Back to the waiting list for another worker; not an attempt, not a failure.
        await job.moveToWait(token);
        options.log?.(`job ${job.id} (${type}) handed back to the queue`);
        throw new WaitingError();
      }
      throw classify(err, job);
    } finally {
      delay.disable();
      for (const s of sources) s.removeEventListener('abort', onAbort);
    }
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function readDelay(h: ReturnType<typeof monitorEventLoopDelay>): EventLoopDelay {
  // The histogram counts in ns and includes the 10 ms resolution itself in every sample.
  const ms = (ns: number) => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - 10) : 0);
  return { maxMs: ms(h.max), p99Ms: ms(h.percentile(99)), meanMs: ms(h.mean) };
}

/** Bad input → UnrecoverableError (no retry); a PipelineError keeps its stage and chunk in the message. */
function classify(err: unknown, job: Job): Error {
  if (err instanceof UnrecoverableError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  if (e instanceof UsageError || e.name === 'UsageError' || (e as { code?: unknown }).code === 'USAGE')
    return new UnrecoverableError(e.message);
  if (e instanceof PipelineError) {
    // The stage and chunk are also in the job's log as JSON, for tools.
    void job.log(JSON.stringify({ stage: e.stage, chunk: e.chunk, message: e.message })).catch(() => {});
  }
  return e;
}

interface ThrottledProgress {
  (value: Record<string, unknown> | number): void;
  flush(): Promise<void>;
}

/**
 * job.updateProgress without waiting for Redis in the hot path: at most one update per
 * `interval` ms in flight, the newest value kept for the next one. A failed update (Redis
 * restarting) is dropped; the next one carries the newer value anyway.
 */
function throttledProgress(job: Job, interval: number): ThrottledProgress {
  let pending: Record<string, unknown> | number | undefined;
  let last = 0;
  let inFlight: Promise<void> | null = null;
  const send = () => {
    if (pending === undefined || inFlight) return;
    const value = pending;
    pending = undefined;
    last = performance.now();
    inFlight = job
      .updateProgress(value as object)
      .catch(() => {})
      .finally(() => {
        inFlight = null;
      });
  };
  const report = ((value) => {
    pending = value;
    if (performance.now() - last >= interval) send();
  }) as ThrottledProgress;
  report.flush = async () => {
    while (inFlight) await inFlight;
    send();
    while (inFlight) await inFlight;
  };
  return report;
}
