// The fake device's virtual clock and engines: a small discrete-event scheduler.
//
// How virtual time relates to real time (the contract tests rely on):
// - Work never runs inside the call that enqueues it; it runs when the clock advances.
// - Whenever the host awaits something incomplete (Event.completion(), Stream/Device.synchronize()),
//   the clock races ahead to the next completion at once, one step per macrotask (setImmediate),
//   so the host can enqueue more work between steps, as a real host would while the GPU runs.
//   10,000 chunks of "milliseconds" of work finish in a fraction of a real second.
// - With the default 'realtime' clock, the clock never runs behind the host: when it is behind
//   performance.now() (since the device was made) it first catches up to it. So host-side delays
//   (a slow sink) are real time and the GPU sits idle during them, as it would on real hardware.
//   isDone() catches up but never races ahead, so polling sees work finish only once its virtual
//   end time has passed in real time.
// - With the 'virtual' clock, real time never enters: host work takes no virtual time, the clock
//   moves only by the steps above, and the same sequence of calls gives the same virtual times
//   in every run (what `tandem bench --fake` reports, so its figures repeat exactly). isDone()
//   only reports; awaiting completion() is what moves the clock.
// - A kernel whose JS runs in slices (its onStart returns a promise) holds the clock: virtual time
//   does not pass that op's end until its JS has finished, so its slices can yield to the event
//   loop (signals, timers, I/O) without any virtual time depending on how long the JS took.
// - Ops start when their stream predecessor and every awaited event are done and their engine is
//   free; ties go to the op enqueued first. A kernel runs its JS function when it starts (it
//   "writes" at its start); a copy moves its bytes when it ends (it "reads" its source at its
//   end). Either way a missing barrier shows up as wrong bytes, which is the point.
import { CudaError } from '../cuda/errors.js';

/** Which engine runs an op: -1 none (markers, waits), 0 compute, 1..N the copy engines. */
export type EngineIndex = number;

export interface FakeOp {
  readonly seq: number;
  readonly label: string;
  /** Ops that must be done before this one starts (stream predecessor, awaited event records);
   * emptied once it starts, so a long stream does not keep every op it ever ran reachable. */
  deps: readonly FakeOp[];
  readonly engine: EngineIndex;
  readonly cost: number;
  /** Dropped once the op is done, with the memory its closure holds. A returned promise is work
   * still running on the host: the op cannot end before it settles (a rejection faults the device). */
  onStart?: () => void | Promise<void>;
  onFinish?: () => void;
  state: 'queued' | 'running' | 'done';
  start: number;
  end: number;
  /** True while the JS of a sliced kernel is still running: the op cannot end yet. */
  hostBusy?: boolean;
}

/** 'realtime': the clock catches up with the host's real time; 'virtual': real time never enters. */
export type FakeClockMode = 'realtime' | 'virtual';

interface Waiter {
  ops: readonly FakeOp[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class FakeClock {
  /** Virtual milliseconds since the device was made. */
  now = 0;
  /** Set when a kernel faulted: every later call fails with it, like a lost CUDA context. */
  fault: CudaError | null = null;
  /** Σ busy virtual ms per engine (index as EngineIndex). */
  readonly busyMs: number[];
  private readonly t0 = performance.now();
  private seq = 0;
  private queued: FakeOp[] = [];
  private running: FakeOp[] = [];
  private readonly engineBusy: boolean[];
  private waiters: Waiter[] = [];
  private pumpScheduled = false;

  constructor(
    readonly copyEngines: number,
    readonly mode: FakeClockMode = 'realtime',
  ) {
    this.engineBusy = new Array<boolean>(copyEngines + 1).fill(false);
    this.busyMs = new Array<number>(copyEngines + 1).fill(0);
  }

  submit(spec: Omit<FakeOp, 'seq' | 'state' | 'start' | 'end'>): FakeOp {
    const op: FakeOp = {
      seq: this.seq++,
      label: spec.label,
      deps: spec.deps,
      engine: spec.engine,
      cost: spec.cost,
      onStart: spec.onStart,
      onFinish: spec.onFinish,
      state: 'queued',
      start: NaN,
      end: NaN,
    };
    this.queued.push(op);
    return op;
  }

  /** True when every op is done; catches up with real time first but never races ahead. */
  allDone(ops: readonly FakeOp[]): boolean {
    if (this.fault) throw this.fault;
    if (ops.every(isDone)) return true;
    this.advanceTo(this.realNow());
    return ops.every(isDone);
  }

  /** Resolves once every op is done; the clock races ahead while someone waits. */
  whenDone(ops: readonly FakeOp[]): Promise<void> {
    if (this.fault) return Promise.reject(this.fault);
    if (ops.every(isDone)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ ops, resolve, reject });
      this.schedulePump();
    });
  }

  /** Sticky fault: abandons all work and fails every waiter, like CUDA_ERROR_ILLEGAL_ADDRESS. */
  setFault(err: CudaError): void {
    if (this.fault) return;
    this.fault = err;
    this.queued = [];
    this.running = [];
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }

  /** Where the clock may catch up to on its own: real time, or (virtual clock) nowhere new. */
  private realNow(): number {
    return this.mode === 'virtual' ? this.now : performance.now() - this.t0;
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.fault) return;
    this.advanceTo(this.realNow());
    this.settleWaiters();
    if (this.waiters.length === 0 || this.fault) return;
    // One step ahead of real time, then yield so the host can react and enqueue more.
    this.step();
    this.settleWaiters();
    if (this.waiters.length > 0 && !this.fault) {
      // The next end belongs to a sliced kernel whose JS still runs: its completion pumps again.
      const next = this.nextEnd();
      if (next !== null && this.held(next)) return;
      if (this.running.length === 0 && this.queued.length === 0) {
        // Cannot happen without a fault (every dependency is an earlier op); fail loudly if it does.
        const err = new CudaError(
          999,
          'CUDA_ERROR_UNKNOWN',
          'fake device',
          'a waiter can never complete',
          'internal scheduler bug',
        );
        const ws = this.waiters;
        this.waiters = [];
        for (const w of ws) w.reject(err);
        return;
      }
      this.schedulePump();
    }
  }

  private settleWaiters(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.ops.every(isDone)) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  /** Runs the event simulation up to virtual time `target` (or stays if already past it). */
  private advanceTo(target: number): void {
    for (;;) {
      this.startReady();
      if (this.fault) return;
      const next = this.nextEnd();
      if (next === null || next > target || this.held(next)) {
        // Time may not pass the end of an op whose JS is still running.
        if (next !== null && this.held(next)) target = Math.min(target, next);
        break;
      }
      this.finishAt(next);
    }
    if (target > this.now) {
      this.now = target;
      this.startReady();
    }
  }

  /** True when an op ending at `t` still runs its JS (so nothing at or after t may finish yet). */
  private held(t: number): boolean {
    return this.running.some((op) => op.hostBusy && op.end <= t);
  }

  /** Advances to the next completion, whatever real time says. */
  private step(): void {
    this.startReady();
    if (this.fault) return;
    const next = this.nextEnd();
    if (next === null || this.held(next)) return;
    this.finishAt(next);
    this.startReady();
  }

  private nextEnd(): number | null {
    let min: number | null = null;
    for (const op of this.running) if (min === null || op.end < min) min = op.end;
    return min;
  }

  private finishAt(t: number): void {
    if (t > this.now) this.now = t;
    const still: FakeOp[] = [];
    const done: FakeOp[] = [];
    for (const op of this.running) (op.end <= t ? done : still).push(op);
    this.running = still;
    done.sort((a, b) => a.seq - b.seq);
    for (const op of done) {
      if (op.engine >= 0) this.engineBusy[op.engine] = false;
      op.state = 'done';
      const f = op.onFinish;
      op.onStart = op.onFinish = undefined;
      f?.();
    }
  }

  private startReady(): void {
    let progressed = true;
    while (progressed && !this.fault) {
      progressed = false;
      for (let k = 0; k < this.queued.length; k++) {
        const op = this.queued[k]!;
        if (!op.deps.every(isDone)) continue;
        if (op.engine >= 0 && this.engineBusy[op.engine]) continue;
        this.queued.splice(k, 1);
        k--;
        op.deps = NO_DEPS;
        op.start = this.now;
        if (op.engine < 0) {
          // Markers and waits take no engine and no time.
          op.end = this.now;
          op.state = 'done';
          const f = op.onFinish;
          op.onStart = op.onFinish = undefined;
          f?.();
        } else {
          op.end = this.now + op.cost;
          op.state = 'running';
          this.engineBusy[op.engine] = true;
          this.busyMs[op.engine]! += op.cost;
          this.running.push(op);
          let work: unknown;
          try {
            work = op.onStart?.();
          } catch (err) {
            this.kernelThrew(op, err);
            return;
          }
          // Only a promise is JS still running; any other value an onStart returns means nothing.
          if (work instanceof Promise) {
            op.hostBusy = true;
            work.then(
              () => {
                op.hostBusy = false;
                if (this.waiters.length > 0) this.schedulePump();
              },
              (err: unknown) => this.kernelThrew(op, err),
            );
          }
        }
        progressed = true;
      }
    }
  }

  private kernelThrew(op: FakeOp, err: unknown): void {
    this.setFault(
      err instanceof CudaError && err.sticky
        ? err
        : new CudaError(
            700,
            'CUDA_ERROR_ILLEGAL_ADDRESS',
            'fake kernel',
            `kernel ${op.label} threw: ${(err as Error)?.message ?? String(err)}`,
          ),
    );
  }
}

const NO_DEPS: readonly FakeOp[] = [];

function isDone(op: FakeOp): boolean {
  return op.state === 'done';
}
