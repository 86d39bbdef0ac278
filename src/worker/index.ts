// tandem/worker: GPU jobs from a BullMQ queue on Redis. Workers run `render` jobs and user job
// types on a device they keep open; submit() adds jobs and waits for them. Kept apart from the
// main entry point so that using tandem without a queue loads no Redis client.
export { redisConnection, DEFAULT_REDIS_URL } from './connection.js';
export {
  checkRenderJob,
  jobType,
  JobDataError,
  MAX_JOB_FRAMES,
  type JobData,
  type RenderJobData,
  type CustomJobData,
} from './job-data.js';
export {
  submit,
  openQueue,
  JobFailedError,
  DEFAULT_JOB_OPTIONS,
  type SubmittedJob,
  type SubmitOptions,
} from './submit.js';
export { startWorker, loadProcessors, type WorkerOptions, type RunningWorker } from './run-worker.js';
export type { JobContext, JobHandler, EventLoopDelay } from './processor.js';
export type { RenderJobResult, RenderJobProgress } from './render-job.js';
export { runSupervisor, type SupervisorOptions } from './supervisor.js';
