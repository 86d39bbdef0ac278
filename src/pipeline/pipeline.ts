// createPipeline(device, options): validated options, push-style run() and pull-style chunks().
// A run takes its ring (device and pinned buffers, streams, events) from the device's pool when
// it starts and hands all of it back when it ends, whatever the outcome, for the next run of any
// pipeline on the device (core/pool.ts); a Pipeline itself holds no GPU memory between runs. A
// run that lost the CUDA context frees its ring instead.
//
// Cancellation: run() and chunks() reject with the signal's reason (AbortSignal.abort() without
// a reason gives a DOMException named 'AbortError'); close() during a run rejects it with an
// AbortError (util/errors.ts). Either way the clean-up is the same as after an error. Callbacks
// already running (a sink, a fill, a compute() promise) get about a chunk's time to settle (twice
// the longest sink call so far, at least 200 ms); one still running then keeps only what it may
// touch (its pinned slot, or its device slot and streams) until it settles, and the run rejects
// at once with an AbortError whose cause is the reason and whose message names what is held.
import type { DeviceCore } from '../core/types.js';
import { AbortError, UsageError } from '../util/errors.js';
import { AsyncQueue } from './async-tools.js';
import { MAX_DEPTH } from './auto-depth.js';
import { PipelineRun } from './run.js';
import { MAX_SINK_TIMEOUT_MS } from './sink-call.js';
import type {
  OutputChunk,
  PipelineInput,
  PipelineOptions,
  PipelineRunOptions,
  PipelineStats,
  RunOptions,
} from './types.js';

/**
 * An overlap pipeline on one device: run() pushes every input through compute → D2H → sink and
 * resolves with the run's statistics; chunks() hands the chunks out for a for-await loop instead.
 * Each run takes its ring from the device pool and hands it back at the end; close() stops runs in
 * progress with an AbortError. Make one with createPipeline() or device.pipeline().
 */
export class Pipeline<I = number> implements Disposable {
  closed = false;
  /** Statistics of the last run that completed (also set after a pull-style iteration ends). */
  lastStats: PipelineStats | null = null;
  private readonly active = new Set<PipelineRun<I>>();
  readonly options: Readonly<PipelineOptions<I>>;
  constructor(
    readonly device: DeviceCore,
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
   * Pull style: yields each chunk in order. A chunk's slot is released when the loop asks for the
   * next chunk, or when the loop ends (break, return, throw): a consumer cannot forget it and stall
   * the ring. chunk.release() frees the slot earlier (the GPU may then reuse it while the loop body
   * still runs); it is idempotent. So chunk.data is valid until release() or the loop's next turn,
   * whichever comes first: copy what must outlive the turn. options.sink is not called.
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
    let held: OutputChunk<never> | undefined;
    try {
      for (;;) {
        held?.release();
        const c = (held = await queue.shift());
        if (c === undefined || r.stopped) break;
        yield c as OutputChunk<I>;
      }
      finished = true;
    } finally {
      held?.release();
      if (!finished) r.stopQuietly();
      r.consumerDone.resolve();
      try {
        this.lastStats = await done;
      } finally {
        this.active.delete(r);
      }
    }
  }

  /** The pipeline's options with this run's overrides (trace), checked before anything is allocated. */
  private runOptions(options: PipelineRunOptions): Readonly<PipelineOptions<I>> {
    checkRunOptions(options, `${this.options.label ?? 'pipeline'} run options`);
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
      r.abort(new AbortError(`${r.label} was closed while running`));
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

/** A Pipeline on `device` with `options`, validated now (a UsageError names a bad option). */
export function createPipeline<I = number>(device: DeviceCore, options: PipelineOptions<I>): Pipeline<I> {
  return new Pipeline<I>(device, options);
}

/**
 * The options of one run: an object, whose signal (if any) is an AbortSignal. A stand-in that
 * only looks like one (no addEventListener) would fail after the ring is allocated.
 */
export function checkRunOptions(options: unknown, what: string): asserts options is RunOptions {
  if (!options || typeof options !== 'object')
    throw new UsageError(`${what}: pass an object ({ signal?, trace? }), got ${String(options)}`);
  const signal = (options as RunOptions).signal;
  if (signal === undefined) return;
  const s = signal as unknown as Record<string, unknown> | null;
  if (
    !s ||
    typeof s !== 'object' ||
    typeof s.aborted !== 'boolean' ||
    typeof s.addEventListener !== 'function' ||
    typeof s.removeEventListener !== 'function'
  )
    throw new UsageError(
      `${what}: signal must be an AbortSignal (new AbortController().signal, AbortSignal.timeout(ms)), got ${describe(signal)}`,
    );
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x !== 'object') return `${typeof x} ${String(x)}`;
  return `an object of class ${(x as object).constructor?.name ?? 'none'} without a boolean aborted and addEventListener()`;
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
  if (o.trace !== undefined && typeof o.trace !== 'boolean')
    throw bad(`trace must be true or false, got ${String(o.trace)}`);
  if (o.label !== undefined && typeof o.label !== 'string') throw bad(`label must be a string, got ${typeof o.label}`);
  if (o.priorities !== undefined) {
    const p = o.priorities as Record<string, unknown>;
    if (!p || typeof p !== 'object' || Array.isArray(p))
      throw bad('priorities must be an object { compute?, copy?, upload? } of integers');
    for (const [k, v] of Object.entries(p)) {
      if (k !== 'compute' && k !== 'copy' && k !== 'upload')
        throw bad(`priorities.${k} is not a stream of the pipeline; use compute, copy or upload`);
      if (v !== undefined && !Number.isSafeInteger(v))
        throw bad(
          `priorities.${k} must be an integer stream priority (lower is higher, as in cuStreamCreateWithPriority), got ${String(v)}`,
        );
    }
  }
  const t = o.sinkTimeoutMs;
  if (t !== undefined && t !== Infinity && !(typeof t === 'number' && t > 0 && t <= MAX_SINK_TIMEOUT_MS))
    throw bad(
      `sinkTimeoutMs must be a number of ms in (0, ${MAX_SINK_TIMEOUT_MS}] (Node's timer limit), or Infinity for no limit; got ${String(t)}`,
    );
}
