// createPipeline(device, options): validated options, push-style run() and pull-style chunks().
// A run takes its ring (device and pinned buffers, streams, events) from the device's pool when
// it starts and hands all of it back when it ends, whatever the outcome, for the next run of any
// pipeline on the device (core/pool.ts); a Pipeline itself holds no GPU memory between runs. A
// run that lost the CUDA context frees its ring instead.
//
// Cancellation: run() and chunks() reject with the signal's reason (AbortSignal.abort() without
// a reason gives a DOMException named 'AbortError'); close() during a run rejects it with an
// Error named 'AbortError'. Either way the clean-up is the same as after an error.
import type { Device } from '../core/types.js';
import { UsageError } from '../cuda/errors.js';
import { AsyncQueue } from './async-tools.js';
import { MAX_DEPTH } from './auto-depth.js';
import { PipelineRun } from './run.js';
import type { OutputChunk, PipelineInput, PipelineOptions, PipelineRunOptions, PipelineStats } from './types.js';

export class Pipeline<I = number> implements Disposable {
  closed = false;
  /** Statistics of the last run that completed (also set after a pull-style iteration ends). */
  lastStats: PipelineStats | null = null;
  private readonly active = new Set<PipelineRun<I>>();
  readonly options: Readonly<PipelineOptions<I>>;
  constructor(
    readonly device: Device,
    options: PipelineOptions<I>,
  ) {
    validate(options);
    this.options = { ...options };
  }

  /** Runs every input through compute → D2H → sink; resolves with the run's statistics. */
  async run(inputs: PipelineInput<I>, options: PipelineRunOptions = {}): Promise<PipelineStats> {
    this.checkOpen('run');
    const r = new PipelineRun<I>(this.device, this.runOptions(options), inputs, options.signal, { kind: 'sink' });
    this.active.add(r);
    try {
      const stats = await r.execute();
      this.lastStats = stats;
      return stats;
    } finally {
      this.active.delete(r);
    }
  }

  /**
   * Pull style: yields each chunk in order; call chunk.release() when done with chunk.data (the
   * slot is reused for a later chunk only then). chunk.data is valid until release() or the end of
   * the iteration, whichever comes first. options.sink is not called in this style.
   */
  async *chunks(
    inputs: PipelineInput<I>,
    options: PipelineRunOptions = {},
  ): AsyncGenerator<OutputChunk<I>, void, undefined> {
    this.checkOpen('chunks');
    const queue = new AsyncQueue<OutputChunk<never>>();
    const r = new PipelineRun<I>(this.device, this.runOptions(options), inputs, options.signal, {
      kind: 'pull',
      queue,
    });
    this.active.add(r);
    const done = r.execute();
    done.catch(() => {}); // awaited below; this only keeps an early failure from counting as unhandled
    let finished = false;
    try {
      for (;;) {
        const c = await queue.shift();
        if (c === undefined || r.stopped) break;
        yield c as OutputChunk<I>;
      }
      finished = true;
    } finally {
      if (!finished) r.stopQuietly();
      r.consumerDone.resolve();
      try {
        this.lastStats = await done;
      } finally {
        this.active.delete(r);
      }
    }
  }

  /** The pipeline's options with this run's overrides (trace). */
  private runOptions(options: PipelineRunOptions): Readonly<PipelineOptions<I>> {
    if (options.trace === undefined || options.trace === !!this.options.trace) return this.options;
    if (typeof options.trace !== 'boolean')
      throw new UsageError(`run options: trace must be true or false, not ${JSON.stringify(options.trace)}`);
    return { ...this.options, trace: options.trace };
  }

  /**
   * Stops runs in progress (they reject with an AbortError; each hands its ring back to the pool
   * as it ends) and refuses new runs. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.active) {
      const e = new Error(`${r.label} was closed while running`);
      e.name = 'AbortError';
      r.abort(e);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private checkOpen(what: string): void {
    if (this.closed)
      throw new UsageError(`${this.options.label ?? 'pipeline'}.${what}() after close(); create a new pipeline`);
  }
}

export function createPipeline<I = number>(device: Device, options: PipelineOptions<I>): Pipeline<I> {
  return new Pipeline<I>(device, options);
}

function validate<I>(o: PipelineOptions<I>): void {
  const bad = (msg: string) => new UsageError(`pipeline options: ${msg}`);
  if (!o || typeof o !== 'object') throw bad('pass an options object');
  if (!Number.isSafeInteger(o.outputBytes) || o.outputBytes <= 0)
    throw bad(`outputBytes must be a positive integer, got ${o.outputBytes}`);
  if (o.inputBytes !== undefined && (!Number.isSafeInteger(o.inputBytes) || o.inputBytes < 0))
    throw bad(`inputBytes must be a non-negative integer, got ${o.inputBytes}`);
  const d = o.depth ?? 'auto';
  if (d !== 'auto' && (!Number.isInteger(d) || d < 1 || d > MAX_DEPTH))
    throw bad(`depth must be 1..${MAX_DEPTH} or 'auto', got ${String(d)}`);
  const ds = o.deviceSlots ?? 'auto';
  if (ds !== 'auto' && (!Number.isInteger(ds) || ds < 1 || ds > MAX_DEPTH))
    throw bad(`deviceSlots must be 1..${MAX_DEPTH} or 'auto', got ${String(ds)}`);
  if (typeof ds === 'number' && typeof d === 'number' && ds > d)
    throw bad(
      `deviceSlots (${ds}) cannot exceed depth (${d}): each device slot needs a pinned slot; raise depth or lower deviceSlots`,
    );
  if (o.mode !== undefined && o.mode !== 'overlap' && o.mode !== 'serial')
    throw bad(`mode must be 'overlap' or 'serial', got ${String(o.mode)}`);
  if (typeof o.compute !== 'function')
    throw bad('compute(chunk) is required: it enqueues the kernels of one chunk on chunk.stream');
  if (o.sink !== undefined && typeof o.sink !== 'function')
    throw bad('sink must be a function (chunk) => void | Promise<void>');
  const c = o.sinkConcurrency ?? 1;
  if (!Number.isInteger(c) || c < 1) throw bad(`sinkConcurrency must be a positive integer, got ${c}`);
  if ((o as { keepRing?: unknown }).keepRing !== undefined)
    throw bad('keepRing is not an option: every run takes its ring from the device pool (device.pool); leave it out');
  if (o.sinkTimeoutMs !== undefined && !(o.sinkTimeoutMs > 0))
    throw bad(`sinkTimeoutMs must be > 0 ms, got ${o.sinkTimeoutMs}`);
}
