// The dealer: one shared input, one input iterable per device pipeline. A device's pipeline asks
// for its next input when its produce loop is ready for one; the dealer answers once that device
// holds fewer than `lookahead` chunks (dealt, not yet released by the ordered sink), so inputs go
// to whichever device frees a slot first. Items get their GLOBAL index in the order they leave the
// shared input; pulls from an async input are serialised, first come first served.
import { Deferred } from './async-tools.js';
import { openInput, type InputCursor } from './input.js';
import type { PipelineInput } from './types.js';

export interface Dealt<I> {
  readonly global: number;
  readonly item: I;
}

const DONE: IteratorResult<never> = { value: undefined, done: true };

export class Dealer<I> {
  /** Items dealt so far (the next global index). */
  dealt = 0;
  /** Σ time spent waiting for the shared input's next item (ms). */
  inputWaitMs = 0;
  readonly outstanding: number[];
  /** Per device: time its pipeline waited for a free lookahead slot (ms). */
  readonly waitedForSlotMs: number[];
  private readonly source: InputCursor<I>;
  private exhausted = false;
  private stopped = false;
  private chain: Promise<void> = Promise.resolve();
  private readonly slotFreed: (Deferred | null)[];

  constructor(
    inputs: PipelineInput<I>,
    devices: number,
    private readonly lookahead: number,
    /** The shared input threw while `device` asked for chunk `global`. */
    private readonly onInputError: (global: number, device: number, err: unknown) => void,
  ) {
    this.source = openInput(inputs);
    this.outstanding = new Array<number>(devices).fill(0);
    this.waitedForSlotMs = new Array<number>(devices).fill(0);
    this.slotFreed = new Array<Deferred | null>(devices).fill(null);
  }

  /**
   * The input iterable of device `d`'s pipeline. `deal` turns a dealt item into what that
   * pipeline receives (and records the device-local index → global index mapping).
   */
  inputFor(d: number, deal: (dealt: Dealt<I>) => unknown): AsyncIterable<unknown> {
    const next = async (): Promise<IteratorResult<unknown>> => {
      if (!this.stopped && !this.exhausted && this.outstanding[d]! >= this.lookahead) {
        const t = performance.now();
        while (!this.stopped && !this.exhausted && this.outstanding[d]! >= this.lookahead) {
          const w = (this.slotFreed[d] ??= new Deferred());
          await w.promise;
        }
        this.waitedForSlotMs[d]! += performance.now() - t;
      }
      if (this.stopped || this.exhausted) return DONE;
      const dealt = this.source.nextSync ? this.takeSync(d, this.source.nextSync) : await this.takeAsync(d);
      if (!dealt) return DONE;
      this.outstanding[d]!++;
      return { value: deal(dealt), done: false };
    };
    return { [Symbol.asyncIterator]: () => ({ next }) };
  }

  /** The ordered sink released one of device d's chunks. */
  released(d: number): void {
    this.outstanding[d]!--;
    this.wake(d);
  }

  /** Deals nothing more: every device's pending and later requests end its input. */
  stop(): void {
    this.stopped = true;
    for (let d = 0; d < this.slotFreed.length; d++) this.wake(d);
  }

  close(): void {
    this.source.close();
  }

  private wake(d: number): void {
    const w = this.slotFreed[d];
    if (!w) return;
    this.slotFreed[d] = null;
    w.resolve();
  }

  private takeSync(d: number, nextSync: () => IteratorResult<I>): Dealt<I> | null {
    const t = performance.now();
    try {
      const r = nextSync();
      this.inputWaitMs += performance.now() - t;
      return this.accept(r);
    } catch (err) {
      return this.inputFailed(d, err);
    }
  }

  private async takeAsync(d: number): Promise<Dealt<I> | null> {
    // One pull at a time, in request order: async iterators need not support overlapping next().
    const prev = this.chain;
    const turn = new Deferred();
    this.chain = turn.promise;
    await prev;
    try {
      if (this.stopped || this.exhausted) return null;
      const t = performance.now();
      try {
        const r = await this.source.next();
        this.inputWaitMs += performance.now() - t;
        return this.stopped ? null : this.accept(r);
      } catch (err) {
        return this.inputFailed(d, err);
      }
    } finally {
      turn.resolve();
    }
  }

  private accept(r: IteratorResult<I>): Dealt<I> | null {
    if (r.done) {
      this.exhausted = true;
      return null;
    }
    return { global: this.dealt++, item: r.value };
  }

  private inputFailed(d: number, err: unknown): null {
    this.exhausted = true;
    this.onInputError(this.dealt, d, err);
    return null;
  }
}
