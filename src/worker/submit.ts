// Submitting jobs from code: submit(queue, job) adds a job to a BullMQ Queue with tandem's
// defaults (retries with exponential backoff, finished jobs kept a while for `tandem jobs`) and
// returns a handle whose done() resolves with the job's result or rejects with why it failed.
import { setTimeout as sleep } from 'node:timers/promises';
import { Job, Queue, QueueEvents, type JobsOptions } from 'bullmq';
import { TandemError } from '../util/errors.js';
import { checkRenderJob, jobType, type JobData } from './job-data.js';

export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

/** A failed job: BullMQ's failedReason, with the PipelineError's stage and chunk where it had them. */
export class JobFailedError extends TandemError {
  override readonly name: string = 'JobFailedError';
  readonly stage: string | null;
  readonly chunk: number | null;
  constructor(
    readonly jobId: string,
    readonly reason: string,
  ) {
    super('JOB_FAILED', `job ${jobId} failed: ${reason}`);
    const m = /stage '(\w+)' failed at chunk (\d+)/.exec(reason);
    this.stage = m ? m[1]! : null;
    this.chunk = m ? Number(m[2]) : null;
  }
}

export interface SubmittedJob<R = unknown> {
  readonly id: string;
  readonly job: Job;
  /**
   * Resolves with the job's return value (a render's stats summary) once it completes; rejects
   * with JobFailedError once it failed for good, or with BullMQ's timeout error after `timeoutMs`.
   * It waits for the job's event and also reads the job's state every half second, so an event
   * missed by its QueueEvents cannot leave it waiting.
   */
  done(options?: { timeoutMs?: number }): Promise<R>;
}

export interface SubmitOptions extends JobsOptions {
  /** QueueEvents to wait on in done(); by default one is opened for the wait and closed after. */
  events?: QueueEvents;
}

/**
 * Adds `job` ({ type: 'render', ... } or a processor's type) to the queue. A render job's
 * fields are checked here first, so a bad one never reaches a worker. Giving `jobId` makes the
 * submission idempotent: BullMQ keeps one job per id.
 */
export async function submit<R = unknown>(
  queue: Queue,
  job: JobData,
  options: SubmitOptions = {},
): Promise<SubmittedJob<R>> {
  const type = jobType(job);
  if (type === 'render') checkRenderJob(job);
  const { events, ...jobOptions } = options;
  const added = await queue.add(type, job, { ...DEFAULT_JOB_OPTIONS, ...jobOptions });
  const id = added.id!;
  return {
    id,
    job: added,
    async done({ timeoutMs } = {}) {
      const ev =
        events ?? new QueueEvents(queue.name, { connection: queue.opts.connection, prefix: queue.opts.prefix });
      const polling = new AbortController();
      try {
        await ev.waitUntilReady();
        // Whichever comes first wins (race handles the other's later rejection).
        const event = added.waitUntilFinished(ev, timeoutMs);
        return (await Promise.race([event, finishedByPolling(queue, id, polling.signal)])) as R;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (/^Job wait .* timed out/.test(message)) throw err;
        throw new JobFailedError(id, message);
      } finally {
        polling.abort();
        if (!events) await ev.close();
      }
    },
  };
}

/** How often done() reads a job's state itself, beside waiting for its event. */
const POLL_MS = 500;

/**
 * The job's outcome, read from Redis every POLL_MS until `signal` aborts (then it never settles).
 * QueueEvents reads the event stream from when it started listening, so a job that finishes
 * between done()'s own check and that moment sends an event no one receives; this read still
 * sees it, so done() cannot wait out its timeout (or forever) on a job that already finished.
 */
async function finishedByPolling(queue: Queue, id: string, signal: AbortSignal): Promise<unknown> {
  while (!signal.aborted) {
    try {
      await sleep(POLL_MS, undefined, { signal });
    } catch {
      break;
    }
    const job = await Job.fromId(queue, id);
    if (!job)
      throw new Error(
        'the job was removed from the queue before it finished; submit it again if its output is still wanted',
      );
    const state = await job.getState();
    if (state === 'completed') return job.returnvalue;
    if (state === 'failed') throw new Error(job.failedReason);
  }
  return new Promise<never>(() => undefined);
}

/** A Queue on `connection` (see redisConnection) under `name`. Close it when done. */
export function openQueue(name: string, connection: Queue['opts']['connection']): Queue {
  return new Queue(name, { connection });
}
