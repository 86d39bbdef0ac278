// The built-in `render` job: `tandem render`'s plan, sinks and orchestration (runRender) on the
// worker's own device, into a temporary name under --out-root renamed into place when complete.
// Workloads stay set up between jobs (WarmWorkloads): the next job with the same workload and
// frame shape reuses the compiled kernels and scratch buffers already on the device.
import { performance } from 'node:perf_hooks';
import type { Device } from '../pipeline/device.js';
import { openSink, planRender, type RenderRequest } from '../render/plan.js';
import { UsageError } from '../util/errors.js';
import { createFrameWorkload } from '../workloads/registry.js';
import { runRender, type RenderProgress } from '../render/render.js';
import type { FrameWorkload, FrameWorkloadInstance } from '../workloads/types.js';
import { JobDataError, checkRenderJob } from './job-data.js';
import { commitJobOutput, discardJobOutput, prepareJobOutput } from './output.js';

/** What a finished render job returns (BullMQ's return value): the run's stats summary. */
export interface RenderJobResult {
  out: string;
  workload: string;
  size: string;
  format: string;
  frames: number;
  bytes: number;
  /** From the first chunk to the last write settling (ms). */
  wallMs: number;
  fps: number;
  bottleneck: string | null;
  efficiency: number | null;
  depth: number | null;
  device: string;
  /** Whether the workload's kernels were already set up on this worker's device by an earlier job. */
  warmKernels: boolean;
}

export type RenderJobProgress = {
  framesDone: number;
  frames: number;
  fps: number;
  /** Seconds left at the current rate, null before the first chunk. */
  etaS: number | null;
};

/** Set-up workloads by kind and frame shape, each on the devices it ran on; the least recent closed past `limit`. */
export class WarmWorkloads {
  readonly #entries = new Map<string, FrameWorkload>();
  constructor(private readonly limit = 4) {}

  /** Whether get() would return a workload already set up. */
  has(name: string, options: Parameters<typeof createFrameWorkload>[1]): boolean {
    return this.#entries.has(JSON.stringify([name, options]));
  }

  get(name: string, options: Parameters<typeof createFrameWorkload>[1]): FrameWorkload {
    const key = JSON.stringify([name, options]);
    const hit = this.#entries.get(key);
    if (hit) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit;
    }
    const inner = createFrameWorkload(name, options);
    const instances = new Map<Device, FrameWorkloadInstance>();
    const warm: FrameWorkload = {
      name: inner.name,
      outputBytes: inner.outputBytes,
      format: inner.format,
      describe: inner.describe,
      setup(device) {
        let instance = instances.get(device);
        if (!instance) instances.set(device, (instance = inner.setup(device)));
        return instance;
      },
      close: () => inner.close(),
    };
    this.#entries.set(key, warm);
    for (const [k, w] of this.#entries) {
      if (this.#entries.size <= this.limit) break;
      this.#entries.delete(k);
      w.close();
    }
    return warm;
  }

  close(): void {
    for (const w of this.#entries.values()) w.close();
    this.#entries.clear();
  }
}

export interface RenderJobContext {
  jobId: string;
  device: Device;
  /** --out-root, resolved (resolveOutRoot). */
  outRoot: string;
  warm: WarmWorkloads;
  signal: AbortSignal;
  progress(p: RenderJobProgress): void;
}

export async function runRenderJob(data: unknown, ctx: RenderJobContext): Promise<RenderJobResult> {
  const job = checkRenderJob(data);
  const directory = job.out.endsWith('/');
  const output = await prepareJobOutput(ctx.outRoot, job.out, ctx.jobId, directory);
  let plan;
  try {
    plan = await planRender({
      workload: job.workload,
      size: job.size,
      frames: job.frames,
      out: directory ? `${output.final}/` : output.final,
      format: job.format,
      framesPerChunk: job.framesPerChunk,
      depth: job.depth,
      deviceSlots: job.deviceSlots,
      mode: job.mode,
      device: 0,
      fps: job.fps,
      cost: job.cost,
    } satisfies RenderRequest);
  } catch (err) {
    throw err instanceof UsageError ? new JobDataError(`render job: ${err.message}`) : err;
  }
  const shape = { ...plan.format, cost: plan.cost };
  const warmKernels = ctx.warm.has(job.workload, shape);
  const workload = ctx.warm.get(job.workload, shape);
  const t0 = performance.now();
  let committed = false;
  try {
    const sink = await openSink({
      ...plan,
      out: directory || plan.kind === 'png' ? `${output.temp}/` : output.temp,
    }).catch((err: unknown) => {
      // The job is fine; this worker cannot write it (no ffmpeg, a read-only directory):
      // retried, possibly on another worker.
      throw err instanceof UsageError
        ? new Error(`this worker cannot open the output: ${err.message}`, { cause: err })
        : err;
    });
    const outcome = await runRender({
      device: ctx.device,
      workload,
      sink,
      frames: plan.frames,
      depth: plan.depth,
      deviceSlots: plan.deviceSlots,
      mode: plan.mode,
      signal: ctx.signal,
      onChunk: (p: RenderProgress) => {
        const fps = p.elapsedMs > 0 ? (p.framesDone / p.elapsedMs) * 1000 : 0;
        ctx.progress({
          framesDone: p.framesDone,
          frames: plan.frames,
          fps,
          etaS: fps > 0 ? (plan.frames - p.framesDone) / fps : null,
        });
      },
    });
    if (outcome.error) throw outcome.error;
    await commitJobOutput({ ...output, directory: directory || plan.kind === 'png' });
    committed = true;
    const wallMs = outcome.outputWallMs ?? performance.now() - t0;
    return {
      out: output.relative,
      workload: job.workload,
      size: job.size,
      format: job.format,
      frames: outcome.progress.framesDone,
      bytes: outcome.sink.bytes,
      wallMs,
      fps: wallMs > 0 ? (outcome.progress.framesDone / wallMs) * 1000 : 0,
      bottleneck: outcome.stats?.bottleneck ?? null,
      efficiency: outcome.stats?.efficiency ?? null,
      depth: outcome.stats?.depth ?? null,
      device: `${ctx.device.properties.name} (${ctx.device.backend})`,
      warmKernels,
    };
  } finally {
    if (!committed) await discardJobOutput(output);
  }
}
