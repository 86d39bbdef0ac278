// `tandem worker`: run GPU jobs from a BullMQ queue on Redis. With --devices, one child process
// per device (see worker/supervisor.ts); otherwise this process is the worker of --device.
// SIGTERM or Ctrl-C: finish the current job (hand it back after --grace), close, exit 0; a
// second one hands the job back at once.
import type { CAC } from 'cac';
import { UsageError } from '../../util/errors.js';
import { parseDeviceList } from '../device-list.js';
import { DEFAULT_REDIS_URL, redisConnection } from '../../worker/connection.js';

interface WorkerCliOptions {
  redis: string;
  queue: string;
  outRoot: string;
  device: number | string;
  devices?: number | string;
  fake?: boolean;
  processor?: string | string[];
  grace: number | string;
  lockDuration: number | string;
  stalledInterval: number | string;
}

function seconds(name: string, v: unknown): number {
  const n = Number(v);
  if (!(n >= 0) || !Number.isFinite(n))
    throw new UsageError(`--${name} must be a number of seconds ≥ 0, got '${String(v)}'`);
  return n * 1000;
}

export function registerWorker(cli: CAC): void {
  cli
    .command('worker', 'Run GPU jobs (render, or your --processor types) from a BullMQ queue on Redis')
    .option('--redis <url>', 'Redis server', { default: DEFAULT_REDIS_URL })
    .option('--queue <name>', 'Queue name', { default: 'tandem' })
    .option('--out-root <dir>', 'Directory every job writes under (must exist)', { default: '.' })
    .option('--device <ordinal>', 'CUDA device of this worker', { default: 0 })
    .option(
      '--devices <spec>',
      "One worker process per device: 'all', a count (2) or ordinals (0,1; 0,0 = two on one GPU); with --fake a count of fake devices",
    )
    .option(
      '--processor <module>',
      'A module exporting a job handler (repeatable); its job type is its `type` export or its file name',
    )
    .option('--grace <s>', 'On SIGTERM, wait this long for the current job, then hand it back', { default: 300 })
    .option(
      '--lock-duration <s>',
      'A job whose worker stops renewing its lock this long is stalled and run elsewhere',
      {
        default: 30,
      },
    )
    .option('--stalled-interval <s>', 'How often to look for stalled jobs', { default: 30 })
    .option('--fake', 'Run on the fake device (no GPU needed)')
    .example('tandem worker --redis redis://10.0.0.5:6379 --queue renders --devices all --out-root /srv/renders')
    .action(async (options: WorkerCliOptions) => {
      process.exitCode = await worker(options);
    });
}

async function worker(o: WorkerCliOptions): Promise<number> {
  const log = (line: string) => process.stderr.write(`tandem worker[${process.pid}]: ${line}\n`);
  const connection = redisConnection(String(o.redis));
  const processors = o.processor === undefined ? [] : [o.processor].flat().map(String);
  const graceMs = seconds('grace', o.grace);
  const lockDurationMs = seconds('lock-duration', o.lockDuration);
  const stalledIntervalMs = seconds('stalled-interval', o.stalledInterval);
  if (lockDurationMs < 1000) throw new UsageError('--lock-duration must be at least 1 s');
  if (stalledIntervalMs < 100) throw new UsageError('--stalled-interval must be at least 0.1 s');
  const device = Number(o.device);
  if (!Number.isInteger(device) || device < 0)
    throw new UsageError(`--device must be an ordinal (0, 1, …), got '${String(o.device)}'`);
  if (o.devices !== undefined) {
    const list = parseDeviceList(o.devices);
    let ordinals: number[];
    if (list === 'all') {
      if (o.fake)
        throw new UsageError('--devices all: the fake device has no list of GPUs; give a count, e.g. --devices 2');
      const { listDevices } = await import('../../core/open.js');
      ordinals = listDevices().map((_, k) => k);
      if (ordinals.length === 0)
        throw new UsageError('--devices all: no CUDA device is visible; check nvidia-smi and CUDA_VISIBLE_DEVICES');
    } else ordinals = [...list];
    const { runSupervisor } = await import('../../worker/supervisor.js');
    const args = [
      '--redis',
      String(o.redis),
      '--queue',
      String(o.queue),
      '--out-root',
      String(o.outRoot),
      '--grace',
      String(graceMs / 1000),
      '--lock-duration',
      String(lockDurationMs / 1000),
      '--stalled-interval',
      String(stalledIntervalMs / 1000),
      ...processors.flatMap((p) => ['--processor', p]),
      ...(o.fake ? ['--fake'] : []),
    ];
    return runSupervisor({ ordinals, args, log });
  }
  const { startWorker } = await import('../../worker/run-worker.js');
  const running = await startWorker({
    connection,
    queue: String(o.queue),
    outRoot: String(o.outRoot),
    device,
    fake: o.fake === true,
    processors,
    graceMs,
    lockDurationMs,
    stalledIntervalMs,
    log,
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals === 1) {
      log(`${signal}: taking no new job, finishing the current one (again to hand it back now)`);
      void running.stop();
    } else running.handBack();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  log(
    `serving queue '${o.queue}' on ${running.device.properties.name} (${running.device.backend} ${device}), writing under ${String(o.outRoot)}`,
  );
  const code = await running.stopped;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  log(`stopped (exit ${code})`);
  return code;
}
