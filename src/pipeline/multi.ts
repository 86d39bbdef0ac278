// createMultiPipeline(devices, options): one single-device pipeline per entry (its own streams,
// ring and pinned slots), inputs dealt to whichever device frees a slot first, and one sink that
// receives every chunk in global order, exactly once. The same GPU may appear twice (two
// pipelines sharing it: the one-GPU smoke test). See multi-run.ts for failure and clean-up.
import type { Device } from './device.js';
import { AbortError, UsageError } from '../util/errors.js';
import { closeDevices } from './multi-close.js';
import { openDevices, type DevicesSpec } from './multi-open.js';
import { MultiRun, checkDevices, lookaheadOf } from './multi-run.js';
import type { MultiPipelineOptions, MultiPipelineStats } from './multi-types.js';
import { checkRunOptions, createPipeline } from './pipeline.js';
import type { PipelineInput, RunOptions } from './types.js';

export { closeDevices } from './multi-close.js';
export { MultiPipelineError } from './multi-errors.js';
export { openDevices, parseDevicesSpec, resolveDevicesSpec, type DevicesSpec } from './multi-open.js';
export { bottleneckOf } from './multi-stats.js';
export type * from './multi-types.js';

/**
 * One pipeline per device, fed from one input: chunks are dealt to whichever device has room
 * and reach the sink once each, in global order. close() stops runs in progress with an
 * AbortError (and closes the devices it opened itself, from openMultiPipeline()).
 */
export class MultiPipeline<I = number> implements Disposable, AsyncDisposable {
  closed = false;
  /** Statistics of the last run that completed. */
  lastStats: MultiPipelineStats | null = null;
  readonly devices: readonly Device[];
  readonly options: Readonly<MultiPipelineOptions<I>>;
  private readonly active = new Map<MultiRun<I>, Promise<unknown>>();
  private devicesClosed: Promise<void> | null = null;

  /** `owned`: devices this pipeline opened itself (openMultiPipeline) and closes with it. */
  constructor(
    devices: readonly Device[],
    options: MultiPipelineOptions<I>,
    private readonly owned: readonly Device[] = [],
  ) {
    checkDevices(devices);
    validate(devices[0]!, options);
    this.devices = [...devices];
    this.options = { ...options };
  }

  /** Runs every input on whichever device is free; the sink gets chunks in global order. */
  async run(inputs: PipelineInput<I>, options: RunOptions = {}): Promise<MultiPipelineStats> {
    if (this.closed) throw new UsageError(`${this.label}.run() after close(); create a new multi-device pipeline`);
    checkRunOptions(options, `${this.label} run options`);
    const r = new MultiRun<I>(this.devices, this.options, inputs, options.signal, this.label);
    const done = r.execute();
    this.active.set(
      r,
      done.catch(() => {}),
    );
    try {
      const stats = await done;
      this.lastStats = stats;
      return stats;
    } finally {
      this.active.delete(r);
    }
  }

  /**
   * Stops runs in progress (they reject with an AbortError) and refuses new ones; devices it
   * opened itself are closed once those runs have freed their rings. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.active.keys()) {
      r.abort(new AbortError(`${r.label} was closed while running`));
    }
    if (this.owned.length > 0)
      this.devicesClosed = Promise.all(this.active.values()).then(() => closeDevices(this.owned));
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** close(), then waits until the devices it opened are closed. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.devicesClosed;
  }

  private get label(): string {
    return this.options.label ?? 'multi-device pipeline';
  }
}

/** A MultiPipeline over `devices` (one listed twice runs two pipelines on it); the caller keeps them. */
export function createMultiPipeline<I = number>(
  devices: readonly Device[],
  options: MultiPipelineOptions<I>,
): MultiPipeline<I> {
  return new MultiPipeline<I>(devices, options);
}

/**
 * Opens the devices `devices` names ('all', a count, or ordinals) and a multi-device pipeline over
 * them; closing the pipeline (close(), using or await using) closes those devices once its runs
 * have freed their rings.
 */
export async function openMultiPipeline<I = number>(
  devices: DevicesSpec,
  options: MultiPipelineOptions<I>,
): Promise<MultiPipeline<I>> {
  const opened = await openDevices(devices);
  try {
    return new MultiPipeline<I>(opened, options, opened);
  } catch (err) {
    closeDevices(opened);
    throw err;
  }
}

function validate<I>(device: Device, o: MultiPipelineOptions<I>): void {
  const bad = (msg: string) => new UsageError(`multi-device pipeline options: ${msg}`);
  if (!o || typeof o !== 'object') throw bad('pass an options object');
  // The options every device pipeline shares are checked by the single-device pipeline itself.
  const { compute, sink: _s, lookahead: _l, ...shared } = o;
  createPipeline(device, { ...shared, compute: compute as never });
  if (o.sink !== undefined && typeof o.sink !== 'function')
    throw bad('sink must be a function (chunk) => void | Promise<void>');
  const la = lookaheadOf(o);
  if (la !== 'ring' && (!Number.isInteger(la) || la < 1))
    throw bad(`lookahead must be a positive integer or 'ring', got ${String(o.lookahead)}`);
}
