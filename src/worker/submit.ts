// Submitting jobs from code: submit(queue, job) adds a job to a BullMQ Queue with tandem's
// defaults (retries with exponential backoff, finished jobs kept a while for `tandem jobs`) and
// returns a handle whose done() resolves with the job's result or rejects with why it failed.
import { Queue, QueueEvents, type Job, type JobsOptions } from 'bullmq';
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
  /** Resolves with the job's return value (a render's stats summary) once it completes; rejects with JobFailedError. */
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
      try {
        await ev.waitUntilReady();
        return (await added.waitUntilFinished(ev, timeoutMs)) as R;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (/timed out/i.test(message)) throw err;
        throw new JobFailedError(id, message);
      } finally {
        if (!events) await ev.close();
      }
    },
  };
}

/** A Queue on `connection` (see redisConnection) under `name`. Close it when done. */
export function openQueue(name: string, connection: Queue['opts']['connection']): Queue {
  return new Queue(name, { connection });
}
