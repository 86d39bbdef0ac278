// One run over several devices: one single-device pipeline run per entry, fed by the dealer,
// draining into the ordered stage. A failure anywhere stops every device: the dealer deals no
// more, chunks waiting for their turn give their slots back, every device run is aborted, and
// the run rejects once every device has freed its ring (a chunk still in a sink keeps its slot
// until that sink settles, so no pinned memory is freed under a sink that is reading it).
import type { Device } from './device.js';
import { AbortError, UsageError, abortReason } from '../util/errors.js';
import { PipelineError } from './errors.js';
import { Dealer, type Dealt } from './multi-dealer.js';
import { MultiPipelineError } from './multi-errors.js';
import { OrderedStage } from './multi-order.js';
import { buildMultiStats } from './multi-stats.js';
import type { MultiPipelineOptions, MultiPipelineStats } from './multi-types.js';
import { createPipeline } from './pipeline.js';
import type { OutputChunk, PipelineInput, PipelineOptions, PipelineStats, StageName } from './types.js';

/** How many released chunks' local → global mappings a device keeps, for naming late errors. */
const KEEP_MAPPINGS = 64;

type Outcome = { ok: true; stats: PipelineStats } | { ok: false; err: unknown };

export function lookaheadOf(o: Pick<MultiPipelineOptions, 'lookahead' | 'depth' | 'mode'>): number | 'ring' {
  if (o.lookahead !== undefined) return o.lookahead;
  if (o.mode === 'serial') return 2;
  const d = o.depth ?? 'auto';
  return d === 'auto' ? 'ring' : d + 1;
}

export class MultiRun<I> {
  private error: unknown = null;
  private failed = false;
  private readonly stopper = new AbortController();
  /** What the device runs reject with when this run stops them; not an error of theirs. */
  private readonly stopReason: Error;
  private dealer!: Dealer<I>;
  private stage!: OrderedStage<I>;
  /** Per device: local index → what was dealt, until the chunk leaves the ordered stage. */
  private readonly deals: Map<number, Dealt<I>>[];
  /** Per device: local index → global index, kept a little longer to name late errors. */
  private readonly globals: Map<number, number>[];
  private readonly lastGlobal: number[];
  /** With trace: every chunk's global index, by device and local index, to relabel timelines. */
  private readonly traced: number[][] | null;

  constructor(
    private readonly devices: readonly Device[],
    private readonly opts: MultiPipelineOptions<I>,
    private readonly inputs: PipelineInput<I>,
    private readonly signal: AbortSignal | undefined,
    readonly label: string,
  ) {
    this.deals = devices.map(() => new Map());
    this.globals = devices.map(() => new Map());
    this.lastGlobal = devices.map(() => -1);
    this.traced = opts.trace ? devices.map(() => []) : null;
    this.stopReason = new AbortError(
      `${label}: stopped because another device's pipeline failed or the run was aborted`,
    );
  }

  /** Stops the run; it rejects with `reason` (close() or the signal). */
  abort(reason: unknown): void {
    this.stop(reason);
  }

  async execute(): Promise<MultiPipelineStats> {
    if (this.signal?.aborted) throw abortReason(this.signal, 'the multi-device pipeline run was aborted');
    const o = this.opts;
    const lookahead = lookaheadOf(o);
    const n = this.devices.length;
    this.dealer = new Dealer<I>(this.inputs, n, lookahead === 'ring' ? Infinity : lookahead, (g, d, err) =>
      this.fail('input', g, d, err),
    );
    const t0 = performance.now();
    this.stage = new OrderedStage<I>(
      {
        devices: this.devices,
        sink: o.sink,
        concurrency: o.sinkConcurrency ?? 1,
        timeoutMs: o.sinkTimeoutMs,
        onFail: (stage, g, d, err) => this.fail(stage, g, d, err),
        onReleased: (d) => this.dealer.released(d),
      },
      t0,
    );
    const onAbort = () => this.stop(abortReason(this.signal!, 'the multi-device pipeline run was aborted'));
    this.signal?.addEventListener('abort', onAbort, { once: true });
    let outcomes: (Outcome | null)[];
    try {
      const runs = this.devices.map((_, d) => this.runDevice(d));
      // A device whose chunk sits in a timed-out sink frees its ring only when that sink settles,
      // which may be never: the run does not wait for it (as the single-device pipeline does not).
      outcomes = await Promise.all(
        runs.map((r, d) => Promise.race([r, this.stage.timedOut[d]!.promise.then(() => null)])),
      );
    } finally {
      this.signal?.removeEventListener('abort', onAbort);
      this.dealer.close();
    }
    if (this.failed) throw this.error;
    const stats = outcomes.map((x) => (x as { ok: true; stats: PipelineStats }).stats);
    if (this.traced) stats.forEach((s, d) => this.relabel(s, this.traced![d]!));
    const delivered = this.stage.delivered;
    if (delivered !== this.dealer.dealt) {
      throw new Error(
        `${this.label}: internal: ${this.dealer.dealt} chunks dealt but ${delivered} delivered; please report this`,
      );
    }
    return buildMultiStats({
      devices: this.devices,
      deviceStats: stats,
      chunks: delivered,
      wallMs: this.stage.lastEnd - t0,
      sinkBusyMs: this.stage.busyMs,
      sinkConcurrency: o.sinkConcurrency ?? 1,
      inputWaitMs: this.dealer.inputWaitMs,
      maxHeld: this.stage.maxHeld,
      reorderWaitMs: this.stage.reorderWaitMs,
      waitedOnMs: this.stage.waitedOnMs,
      waitedForSlotMs: this.dealer.waitedForSlotMs,
      lookahead,
      outputBytes: o.outputBytes,
    });
  }

  private runDevice(d: number): Promise<Outcome> {
    const device = this.devices[d]!;
    const deals = this.deals[d]!;
    const globals = this.globals[d]!;
    const o = this.opts;
    const uploads = (o.inputBytes ?? 0) > 0;
    let local = 0;
    const input = this.dealer.inputFor(d, (dealt) => {
      const n = local++;
      deals.set(n, dealt);
      globals.set(n, dealt.global);
      this.lastGlobal[d] = dealt.global;
      this.traced?.[d]!.push(dealt.global);
      const item = dealt.item;
      // An upload function is called with the device-local index: hand it the global one.
      if (uploads && typeof item === 'function') {
        const fill = item as unknown as (staging: Uint8Array, index: number) => void | Promise<void>;
        return (staging: Uint8Array) => fill(staging, dealt.global);
      }
      return item;
    });
    const { compute: _c, sink: _s, lookahead: _l, sinkConcurrency: _sc, sinkTimeoutMs: _st, ...shared } = o;
    const options: PipelineOptions<unknown> = {
      ...shared,
      label: `${this.label} [${d}: device ${device.ordinal}]`,
      // The device pipeline's host stage is the ordered stage: at most its ring waits there.
      sinkConcurrency: Number.MAX_SAFE_INTEGER,
      compute: (c) => {
        const dealt = deals.get(c.index)!;
        return o.compute({
          index: dealt.global,
          slot: c.slot,
          stream: c.stream,
          output: c.output,
          input: c.input,
          item: dealt.item,
          device,
          deviceIndex: d,
        });
      },
      sink: (c: OutputChunk<unknown>) => {
        const dealt = deals.get(c.index)!;
        deals.delete(c.index);
        globals.delete(c.index - KEEP_MAPPINGS);
        return this.stage.arrive(d, dealt.global, c, dealt.item);
      },
    };
    let run: Promise<PipelineStats>;
    try {
      run = createPipeline<unknown>(device, options).run(input, { signal: this.stopper.signal });
    } catch (err) {
      run = Promise.reject(err);
    }
    return run.then(
      (stats): Outcome => ({ ok: true, stats }),
      (err: unknown): Outcome => {
        this.deviceFailed(d, err);
        return { ok: false, err };
      },
    );
  }

  /** A device pipeline's timeline counts its own chunks; the caller knows chunks by global index. */
  private relabel(stats: PipelineStats, globals: readonly number[]): void {
    for (const t of stats.timeline ?? []) t.index = globals[t.index] ?? t.index;
  }

  private deviceFailed(d: number, err: unknown): void {
    if (err === this.stopReason || this.failed) return;
    if (err instanceof PipelineError) {
      // A device that failed to set up had no chunk of its own: the run's first chunk stands for it.
      const g = err.stage === 'setup' ? 0 : (this.globals[d]!.get(err.chunk) ?? this.lastGlobal[d]!);
      this.fail(err.stage, g, d, err.cause);
      return;
    }
    // Not from a stage of the run (an internal error): the device's own error, as is.
    this.stop(err);
  }

  private fail(stage: StageName, global: number, d: number, cause: unknown): void {
    // Several sinks in flight may fail out of order: report the earliest chunk (as Run.fail does).
    const prev = this.error;
    if (
      this.failed &&
      stage === 'sink' &&
      prev instanceof MultiPipelineError &&
      prev.stage === 'sink' &&
      global < prev.chunk
    ) {
      this.error = new MultiPipelineError(stage, global, cause, this.label, this.devices[d]!.ordinal, d);
      return;
    }
    if (this.failed) return;
    const dev = this.devices[d]!;
    this.stop(new MultiPipelineError(stage, global, cause, this.label, dev.ordinal, d));
  }

  private stop(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.error = error;
    this.dealer?.stop();
    this.stage?.stop();
    this.stopper.abort(this.stopReason);
  }
}

export function checkDevices(devices: unknown): asserts devices is readonly Device[] {
  if (!Array.isArray(devices) || devices.length === 0) {
    throw new UsageError('createMultiPipeline: pass a non-empty array of devices (openDevices("all") opens every GPU)');
  }
  devices.forEach((d, k) => {
    if (!d || typeof d !== 'object' || typeof (d as Device).createStream !== 'function')
      throw new UsageError(`createMultiPipeline: devices[${k}] is not a Device`);
    if ((d as Device).closed)
      throw new UsageError(
        `createMultiPipeline: devices[${k}] (ordinal ${(d as Device).ordinal}) is closed; open it again`,
      );
  });
}
