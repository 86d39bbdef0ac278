// `tandem jobs`: what a queue holds, by state, with each job's progress (or result, or why it
// failed). --json prints the same as one JSON object on stdout.
import type { CAC } from 'cac';
import { UsageError } from '../../util/errors.js';
import { DEFAULT_REDIS_URL, clientConnection, withRedis } from '../../worker/connection.js';

interface JobsCliOptions {
  redis: string;
  queue: string;
  limit: number | string;
  json?: boolean;
}

const STATES = ['active', 'waiting', 'delayed', 'prioritized', 'completed', 'failed'] as const;

export function registerJobs(cli: CAC): void {
  cli
    .command('jobs', 'List the jobs of a queue: waiting, active (with progress), completed, failed')
    .option('--redis <url>', 'Redis server', { default: DEFAULT_REDIS_URL })
    .option('--queue <name>', 'Queue name', { default: 'tandem' })
    .option('--limit <n>', 'Jobs listed per state (the newest)', { default: 20 })
    .option('--json', 'One JSON object on stdout')
    .example('tandem jobs --queue renders')
    .action(async (options: JobsCliOptions) => {
      await jobs(options);
    });
}

function describe(progress: unknown): string {
  if (progress && typeof progress === 'object' && 'framesDone' in progress) {
    const p = progress as { framesDone: number; frames: number; fps?: number; etaS?: number | null };
    return `${p.framesDone}/${p.frames} frames, ${(p.fps ?? 0).toFixed(1)} fps${p.etaS != null ? `, eta ${p.etaS.toFixed(1)} s` : ''}`;
  }
  return progress === 0 || progress === undefined ? '' : JSON.stringify(progress);
}

async function jobs(o: JobsCliOptions): Promise<void> {
  const limit = Number(o.limit);
  if (!Number.isInteger(limit) || limit < 0)
    throw new UsageError(`--limit must be a whole number ≥ 0, got '${String(o.limit)}'`);
  const { Queue } = await import('bullmq');
  const queue = new Queue(String(o.queue), { connection: clientConnection(String(o.redis)) });
  await withRedis(String(o.redis), [queue], async () => {
    try {
      const counts = await queue.getJobCounts(...STATES);
      const lists: Record<string, unknown[]> = {};
      const lines = [`queue '${o.queue}': ${STATES.map((s) => `${counts[s] ?? 0} ${s}`).join(', ')}`];
      for (const state of STATES) {
        if (limit === 0 || !counts[state]) continue;
        const list = await queue.getJobs([state], 0, limit - 1, false);
        lists[state] = list.map((j) => ({
          id: j.id,
          type: j.name,
          out: (j.data as { out?: string }).out,
          progress: j.progress,
          attemptsMade: j.attemptsMade,
          ...(state === 'completed' ? { result: j.returnvalue } : {}),
          ...(state === 'failed' ? { failedReason: j.failedReason } : {}),
        }));
        for (const j of list) {
          const what = (j.data as { out?: string }).out ?? '';
          const extra =
            state === 'failed'
              ? j.failedReason
              : state === 'completed'
                ? `${((j.finishedOn ?? 0) - (j.processedOn ?? 0)) / 1000} s`
                : describe(j.progress);
          lines.push(
            `  ${state.padEnd(11)} ${String(j.id).padEnd(8)} ${j.name.padEnd(10)} ${what}  ${extra ?? ''}`.trimEnd(),
          );
        }
      }
      if (o.json) process.stdout.write(`${JSON.stringify({ queue: o.queue, counts, jobs: lists }, null, 2)}\n`);
      else process.stdout.write(`${lines.join('\n')}\n`);
    } finally {
      await queue.close().catch(() => {});
    }
  });
}
