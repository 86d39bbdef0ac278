// `tandem submit render …` / `tandem submit <type> --data '{…}'`: add a job to the queue; with
// --wait, follow its progress on stderr and print its result (JSON) on stdout. Exit codes: 0
// added (or done), 1 the job failed, 2 bad job data or options.
import type { CAC } from 'cac';
import { UsageError } from '../../util/errors.js';
import { DEFAULT_REDIS_URL, clientConnection, withRedis } from '../../worker/connection.js';
import { JobDataError, type JobData } from '../../worker/job-data.js';
import { EXIT_FAILURE } from '../run-cli.js';

interface SubmitCliOptions {
  redis: string;
  queue: string;
  wait?: boolean;
  data?: string;
  jobId?: string;
  attempts: number | string;
  workload?: string;
  size?: string;
  frames?: number | string;
  out?: string;
  format?: string;
  framesPerChunk?: number | string;
  fps?: number | string;
  cost?: number | string;
  depth?: number | string;
  mode?: string;
}

const RENDER_FLAGS = [
  'workload',
  'size',
  'frames',
  'out',
  'format',
  'framesPerChunk',
  'fps',
  'cost',
  'depth',
  'mode',
] as const;
const NUMERIC = new Set(['frames', 'framesPerChunk', 'fps', 'cost', 'depth']);

/** The job from the command line: --data JSON, then the render flags on top. */
export function jobFromOptions(type: string, o: SubmitCliOptions): JobData {
  let data: Record<string, unknown> = {};
  if (o.data !== undefined) {
    try {
      data = JSON.parse(String(o.data)) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`--data is not JSON: ${(err as Error).message}`);
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data))
      throw new UsageError('--data must be a JSON object');
  }
  for (const key of RENDER_FLAGS) {
    const v = o[key];
    if (v === undefined) continue;
    if (type !== 'render')
      throw new UsageError(`--${key} is a render option; give a '${type}' job its fields with --data`);
    data[key] =
      NUMERIC.has(key) && v !== 'auto' && String(v).trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
  }
  return { ...data, type } as JobData;
}

export function registerSubmit(cli: CAC): void {
  cli
    .command(
      'submit <type>',
      "Add a job to the queue: 'render' with tandem render's options, or a --processor type with --data",
    )
    .option('--redis <url>', 'Redis server', { default: DEFAULT_REDIS_URL })
    .option('--queue <name>', 'Queue name', { default: 'tandem' })
    .option('--wait', 'Wait for the job: progress on stderr, its result (JSON) on stdout')
    .option('--data <json>', "The job's fields as a JSON object")
    .option('--job-id <id>', 'Job id: a second submit with the same id adds nothing')
    .option('--attempts <n>', 'Runs before a failing job is given up (transient failures only)', { default: 3 })
    .option('--workload <name>', 'render: frame workload')
    .option('--size <WxH>', 'render: frame size')
    .option('--frames <n>', 'render: frames')
    .option('--out <path>', "render: output under the worker's --out-root (x.mp4, dir/, x.raw)")
    .option('--format <fmt>', 'render: yuv420p or rgba')
    .option('--frames-per-chunk <n>', 'render: frames per pipeline chunk')
    .option('--fps <n>', 'render: video frame rate')
    .option('--cost <x>', 'render: per-frame GPU cost multiplier')
    .option('--depth <n>', "render: ring depth or 'auto'")
    .option('--mode <mode>', 'render: overlap or serial')
    .example('tandem submit render --workload fractal --size 1920x1080 --frames 600 --out clips/a.mp4 --wait')
    .example('tandem submit thumbnail --data \'{"video":"clips/a.mp4"}\'')
    .action(async (type: string, options: SubmitCliOptions) => {
      process.exitCode = await submitCommand(type, options);
    });
}

async function submitCommand(type: string, o: SubmitCliOptions): Promise<number> {
  const attempts = Number(o.attempts);
  if (!Number.isInteger(attempts) || attempts < 1)
    throw new UsageError(`--attempts must be a whole number ≥ 1, got '${String(o.attempts)}'`);
  const job = jobFromOptions(type, o);
  const connection = clientConnection(String(o.redis));
  const { openQueue, submit, JobFailedError } = await import('../../worker/submit.js');
  const { QueueEvents } = await import('bullmq');
  const queue = openQueue(String(o.queue), connection);
  const events = o.wait ? new QueueEvents(String(o.queue), { connection }) : undefined;
  return withRedis(String(o.redis), events ? [queue, events] : [queue], async () => {
    try {
      let submitted;
      try {
        submitted = await submit(queue, job, {
          attempts,
          ...(o.jobId !== undefined ? { jobId: String(o.jobId) } : {}),
          events,
        });
      } catch (err) {
        if (err instanceof JobDataError) throw new UsageError(err.message);
        throw err;
      }
      process.stderr.write(`tandem submit: job ${submitted.id} (${type}) added to queue '${o.queue}'\n`);
      if (!events) {
        process.stdout.write(`${submitted.id}\n`);
        return 0;
      }
      const onProgress = ({ jobId, data }: { jobId: string; data: unknown }) => {
        if (jobId !== submitted.id) return;
        const p = data as { framesDone?: number; frames?: number; fps?: number; etaS?: number | null };
        const text =
          typeof p === 'object' && p && p.framesDone !== undefined
            ? `${p.framesDone}/${p.frames} frames  ${(p.fps ?? 0).toFixed(1)} fps${p.etaS != null ? `  eta ${p.etaS.toFixed(1)} s` : ''}`
            : JSON.stringify(data);
        process.stderr.write(`tandem submit: job ${jobId}: ${text}\n`);
      };
      events.on('progress', onProgress);
      try {
        const result = await submitted.done();
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return 0;
      } catch (err) {
        if (err instanceof JobFailedError) {
          process.stderr.write(`tandem: ${err.message}\n`);
          return EXIT_FAILURE;
        }
        throw err;
      }
    } finally {
      await events?.close().catch(() => {});
      await queue.close().catch(() => {});
    }
  });
}
