// The ordered stage shared by every device: chunks arrive from the device pipelines in any
// order, wait here (in their pinned slots) until their global turn, and go to the sink in order,
// exactly once. A chunk waiting here keeps its slot, which holds back its device's ring: that is
// the backpressure, and it bounds memory to the devices' rings.
//
// It cannot deadlock: the device holding the smallest undelivered chunk g got all its earlier
// chunks before g (each device sees its inputs in global order), so they are all < g, were all
// handed to the sink and are released once the sink settles; its ring then frees and g arrives.
import { callSink } from './sink-call.js';
import type { Device } from './device.js';
import { Deferred } from './async-tools.js';
import type { MultiOutputChunk } from './multi-types.js';
import type { OutputChunk } from './types.js';

interface Held<I> {
  readonly global: number;
  readonly d: number;
  readonly chunk: OutputChunk<unknown>;
  readonly item: I;
  /** Settles the device pipeline's sink promise, which frees the pinned slot. */
  readonly settle: Deferred;
  readonly arrived: number;
}

export interface OrderedStageOptions<I> {
  devices: readonly Device[];
  sink: ((chunk: MultiOutputChunk<I>) => void | Promise<void>) | undefined;
  concurrency: number;
  timeoutMs: number | undefined;
  onFail(stage: 'sink', global: number, d: number, err: unknown): void;
  /** A chunk of device d left the stage (its slot is free again). */
  onReleased(d: number): void;
}

export class OrderedStage<I> {
  /** The next global index the sink gets. */
  next = 0;
  /** Chunks the sink settled. */
  delivered = 0;
  busyMs = 0;
  lastEnd: number;
  maxHeld = 0;
  reorderWaitMs = 0;
  /** Per device: time the stage had room but its next chunk was still on that device. */
  readonly waitedOnMs: number[];
  /** Per device: resolves when a sink call on one of its chunks timed out (it may never settle). */
  readonly timedOut: Deferred[];
  private readonly held = new Map<number, Held<I>>();
  private inSink = 0;
  private idleSince: number;
  private stopped = false;

  constructor(
    private readonly o: OrderedStageOptions<I>,
    t0: number,
  ) {
    this.lastEnd = t0;
    this.idleSince = t0;
    this.waitedOnMs = new Array<number>(o.devices.length).fill(0);
    this.timedOut = o.devices.map(() => new Deferred());
  }

  /** Device d's pipeline hands over chunk `global`; the returned promise is its sink's. */
  arrive(d: number, global: number, chunk: OutputChunk<unknown>, item: I): Promise<void> | undefined {
    if (this.stopped) {
      this.o.onReleased(d);
      return undefined; // the run is stopping: free the slot at once
    }
    if (global < this.next || this.held.has(global)) {
      this.o.onFail(
        'sink',
        global,
        d,
        new Error(
          `internal: chunk ${global} reached the ordered stage twice (next is ${this.next}); please report this`,
        ),
      );
      this.o.onReleased(d);
      return undefined;
    }
    const h: Held<I> = { global, d, chunk, item, settle: new Deferred(), arrived: performance.now() };
    this.held.set(global, h);
    if (this.held.size > this.maxHeld) this.maxHeld = this.held.size;
    this.pump();
    return h.settle.promise;
  }

  /** Delivers nothing more; chunks waiting for their turn give their slots back now. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const waiting = [...this.held.values()];
    this.held.clear();
    for (const h of waiting) this.leave(h);
  }

  private leave(h: Held<I>): void {
    h.settle.resolve();
    this.o.onReleased(h.d);
  }

  private pump(): void {
    while (!this.stopped && this.inSink < this.o.concurrency) {
      const h = this.held.get(this.next);
      if (!h) break;
      this.held.delete(this.next);
      this.next++;
      const now = performance.now();
      if (this.idleSince >= 0) {
        this.waitedOnMs[h.d]! += now - this.idleSince;
        this.idleSince = -1;
      }
      this.reorderWaitMs += now - h.arrived;
      this.start(h, now);
    }
    if (!this.stopped && this.inSink < this.o.concurrency && this.idleSince < 0) this.idleSince = performance.now();
  }

  private start(h: Held<I>, start: number): void {
    this.inSink++;
    let finished = false;
    let timedOut = false;
    const finish = (ok: boolean, err?: unknown, fromPump = false) => {
      if (finished) return;
      finished = true;
      const end = performance.now();
      this.inSink--;
      this.busyMs += end - start;
      if (end > this.lastEnd) this.lastEnd = end;
      if (ok && !timedOut) this.delivered++;
      if (!ok) this.o.onFail('sink', h.global, h.d, err);
      this.leave(h);
      if (!fromPump) this.pump();
    };
    const sink = this.o.sink;
    if (!sink) {
      finish(true, undefined, true); // pump()'s loop goes on to the next chunk
      return;
    }
    const c = h.chunk;
    const out: MultiOutputChunk<I> = {
      index: h.global,
      slot: c.slot,
      item: h.item,
      data: c.data,
      pinned: c.pinned,
      device: this.o.devices[h.d]!,
      deviceIndex: h.d,
      // Frees the device slot early; the stage still counts the sink call until it settles.
      release: () => c.release(),
    };
    callSink(sink, out, this.o.timeoutMs, (err) => {
      timedOut = true;
      this.o.onFail('sink', h.global, h.d, err);
      this.timedOut[h.d]!.resolve();
    }).then(
      () => finish(true),
      (err: unknown) => finish(false, err),
    );
  }
}
