// Per-chunk timing events (trace mode and 'auto' warm-up) and the host-clock alignment.
//
// Alignment method: at the start of a run the compute stream is idle, so a timing event recorded
// there completes within a launch latency. We take performance.now() just
// before recording it and map every later GPU timestamp to host time as
//   host(e) = hostAtReference + e.elapsedMs(reference).
// Error: the launch latency plus clock drift over the run (negligible for runs of seconds).
import type { DeviceCore, Event, Stream } from '../core/types.js';
import type { ResourceBag } from './ring.js';

export interface TimingSet {
  uploadStart: Event | null;
  uploadEnd: Event | null;
  computeStart: Event;
  computeEnd: Event;
  copyStart: Event;
  copyEnd: Event;
}

/**
 * Timing sets are reused: a set returns to the pool once its chunk was delivered and read, so
 * the pool stops growing at the number of chunks in flight (at most depth + deviceSlots).
 */
export class TimingPool {
  private free: TimingSet[] = [];
  private made = 0;
  constructor(
    private readonly device: DeviceCore,
    private readonly bag: ResourceBag,
    private readonly uploads: boolean,
    private readonly label: string,
  ) {}
  acquire(): TimingSet {
    const set = this.free.pop();
    if (set) return set;
    const k = this.made++;
    const ev = (what: string) => this.bag.event(this.device, { timing: true, label: `${this.label} ${what}#${k}` });
    return {
      uploadStart: this.uploads ? ev('uploadStart') : null,
      uploadEnd: this.uploads ? ev('uploadEnd') : null,
      computeStart: ev('computeStart'),
      computeEnd: ev('computeEnd'),
      copyStart: ev('copyStart'),
      copyEnd: ev('copyEnd'),
    };
  }
  /** Makes the first set now (at setup), so a failure to create events fails the setup. */
  prime(): void {
    if (this.made === 0) this.free.push(this.acquire());
  }
  release(set: TimingSet): void {
    this.free.push(set);
  }
}

export class HostClockAlignment {
  private constructor(
    private readonly reference: Event,
    private readonly hostAtReference: number,
  ) {}
  /** Records the reference on an idle stream; see the note at the top of the file. */
  static start(device: DeviceCore, bag: ResourceBag, stream: Stream, label: string): HostClockAlignment {
    const ref = bag.event(device, { timing: true, label: `${label} clock reference` });
    const host = device.hostNow?.() ?? performance.now();
    ref.record(stream);
    return new HostClockAlignment(ref, host);
  }
  /** Host time (the device's hostNow(), else performance.now(), in ms) of a completed timing event. */
  host(e: Event): number {
    return this.hostAtReference + e.elapsedMs(this.reference);
  }
}

export interface MeasuredSpans {
  upload?: [number, number];
  compute: [number, number];
  copy: [number, number];
}

export function readSpans(set: TimingSet, clock: HostClockAlignment): MeasuredSpans {
  const spans: MeasuredSpans = {
    compute: [clock.host(set.computeStart), clock.host(set.computeEnd)],
    copy: [clock.host(set.copyStart), clock.host(set.copyEnd)],
  };
  if (set.uploadStart && set.uploadEnd) spans.upload = [clock.host(set.uploadStart), clock.host(set.uploadEnd)];
  return spans;
}
