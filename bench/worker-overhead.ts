// One worker's per-job overhead against the same render run directly through the library, on one
// device: the same workload, frame format, ring and raw sink, the device and kernels warm on both
// sides. The worker is `tandem worker` in its own process on a real redis-server; jobs are
// submitted one at a time and timed by BullMQ (processedOn → finishedOn: the worker's whole job,
// output check and rename included) and from the submitter (submit → done() resolved). The
// direct runs time openRawSink → runRender → the sink closed, in this process.
//   bash .gpu-host/run.sh node dist/bench/worker-overhead.js [--frames N] [--jobs 5]
//   node dist/bench/worker-overhead.js --fake --size 128x72 --frames 24      (smoke test, no GPU)
// --frames defaults to what makes one direct render last about --target-ms (1000). Needs
// redis-server (TANDEM_REDIS_SERVER or PATH). Prints a table; with OUT set, writes
// $OUT/worker-overhead.json.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Job } from 'bullmq';
import { createFrameWorkload, open, openRawSink, runRender, type Device, type PixelFormat } from 'tandem';
import { median, parseFrameSize } from 'tandem/bench';
import { FakeDevice } from 'tandem/testing';
import { openQueue, submit, type RenderJobResult } from 'tandem/worker';
import { freePort, waitLine } from './child-processes.js';

const { values: args } = parseArgs({
  options: {
    fake: { type: 'boolean', default: false },
    size: { type: 'string', default: '1920x1080' },
    format: { type: 'string', default: 'yuv420p' },
    frames: { type: 'string' },
    'frames-per-chunk': { type: 'string', default: '4' },
    'target-ms': { type: 'string', default: '1000' },
    jobs: { type: 'string', default: '5' },
    dir: { type: 'string', default: tmpdir() },
  },
});

const BIN = fileURLToPath(new URL('../../bin/tandem.js', import.meta.url));
const { width, height } = parseFrameSize(args.size);
const pixelFormat = args.format as PixelFormat;
const framesPerChunk = Number(args['frames-per-chunk']);
const jobs = Number(args.jobs);
const format = { width, height, pixelFormat, framesPerChunk };

/** One direct render: the raw sink opened, the frames rendered, the sink closed (ms). */
async function directRender(
  device: Device,
  workload: ReturnType<typeof createFrameWorkload>,
  path: string,
  frames: number,
) {
  const t0 = performance.now();
  const sink = await openRawSink({ path, format });
  const outcome = await runRender({ device, workload, sink, frames, depth: 'auto' });
  if (outcome.error) throw outcome.error;
  return performance.now() - t0;
}

const dir = mkdtempSync(join(args.dir, 'tandem-worker-overhead-'));
const port = await freePort();
const redis = spawn(
  process.env.TANDEM_REDIS_SERVER ?? 'redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
let worker: ChildProcess | null = null;
try {
  await waitLine(redis, 'stdout', 'Ready to accept connections');

  // Direct: this process's device, the workload set up once (as the worker keeps it).
  const device: Device = args.fake ? new FakeDevice() : await open(0);
  const deviceName = device.properties.name;
  const workload = createFrameWorkload('fractal', { ...format, cost: 1 });
  let frames = args.frames === undefined ? 0 : Number(args.frames);
  const direct: number[] = [];
  try {
    // Each render writes a new file, removed outside the timed span, as the worker's jobs are:
    // truncating the previous output would wait for its pages' writeback inside the timing.
    let renders = 0;
    const render = async (n: number) => {
      const path = join(dir, `direct-${renders++}.raw`);
      const ms = await directRender(device, workload, path, n);
      rmSync(path, { force: true });
      return ms;
    };
    await render(2 * framesPerChunk); // compile, warm up
    if (!frames) {
      // Probed twice: the first run of a size also fills the device's pool for it.
      const probe = 16 * framesPerChunk;
      await render(probe);
      const ms = await render(probe);
      frames = Math.max(framesPerChunk, Math.round((probe * Number(args['target-ms'])) / ms));
      // A short probe runs faster per frame than a job of the target length (writing gigabytes
      // of output slows down), so the count is scaled once more on a run of that length: the
      // second, since the first of a size also fills the pool for the ring 'auto' decides there.
      await render(frames);
      const full = await render(frames);
      frames = Math.max(framesPerChunk, Math.round((frames * Number(args['target-ms'])) / full));
    }
    await render(frames); // the ring 'auto' settles on for this length, into the pool
    for (let i = 0; i < jobs; i++) direct.push(await render(frames));
  } finally {
    workload.close();
    device.close();
  }

  // The worker: its own process, its own device.
  const url = `redis://127.0.0.1:${port}`;
  const queueName = 'overhead';
  worker = spawn(
    process.execPath,
    [BIN, 'worker', '--redis', url, '--queue', queueName, '--out-root', dir, ...(args.fake ? ['--fake'] : [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await waitLine(worker, 'stderr', 'serving queue');
  const queue = openQueue(queueName, { host: '127.0.0.1', port });
  const job = (i: number) => ({
    type: 'render',
    workload: 'fractal',
    size: args.size,
    format: pixelFormat,
    framesPerChunk,
    cost: 1,
    depth: 'auto' as const,
    frames: i === 0 ? 2 * framesPerChunk : frames,
    out: `job-${i}.raw`,
  });
  const inWorker: number[] = [];
  const submitToDone: number[] = [];
  const loopDelayMax: number[] = [];
  const resultWall: number[] = [];
  try {
    // Untimed as on the direct side: job 0 compiles the kernels, job 1 settles the ring in the pool.
    for (let i = 0; i < jobs + 2; i++) {
      const t0 = performance.now();
      const submitted = await submit<RenderJobResult & { eventLoopDelay: { maxMs: number } }>(queue, job(i));
      const result = await submitted.done({ timeoutMs: 600_000 });
      const elapsed = performance.now() - t0;
      const finished = await Job.fromId(queue, submitted.id);
      rmSync(join(dir, `job-${i}.raw`), { force: true });
      if (i < 2) continue;
      submitToDone.push(elapsed);
      inWorker.push(finished!.finishedOn! - finished!.processedOn!);
      resultWall.push(result.wallMs);
      loopDelayMax.push(result.eventLoopDelay.maxMs);
    }
  } finally {
    await queue.close();
  }

  const d = median(direct);
  const w = median(inWorker);
  const s = median(submitToDone);
  const figures = {
    device: deviceName,
    size: args.size,
    format: pixelFormat,
    frames,
    framesPerChunk,
    jobs,
    directMs: direct,
    workerJobMs: inWorker,
    submitToDoneMs: submitToDone,
    workerRenderWallMs: resultWall,
    eventLoopDelayMaxMs: loopDelayMax,
    overheadInWorker: w / d - 1,
    overheadSubmitToDone: s / d - 1,
  };
  if (process.env.OUT) writeFileSync(join(process.env.OUT, 'worker-overhead.json'), JSON.stringify(figures, null, 2));
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  console.log(`worker overhead on ${deviceName}: fractal ${args.size} ${pixelFormat}, ${frames} frames a job`);
  console.log(`  direct (library)           median ${ms(d)}  [${direct.map((x) => x.toFixed(0)).join(', ')}]`);
  console.log(`  worker job (BullMQ times)  median ${ms(w)}  overhead ${pct(w / d - 1)}`);
  console.log(`  submit → done()            median ${ms(s)}  overhead ${pct(s / d - 1)}`);
  console.log(`  worst event-loop delay in the worker per job: ${loopDelayMax.map((x) => ms(x)).join(', ')}`);
} finally {
  worker?.kill('SIGTERM');
  if (worker && worker.exitCode === null) await new Promise((r) => worker!.once('exit', r));
  redis.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
