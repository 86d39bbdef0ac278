// The ring: per slot a device output buffer, its pinned twin, optional input buffers, and the
// barrier events. Every barrier is keyed on the slot's previous user, not on n - depth, so the
// ring can grow once mid-run ('auto' depth) without breaking any of them.
import type { Device, DeviceBuffer, Event, PinnedBuffer, Resource } from '../core/types.js';

export interface Slot {
  readonly index: number;
  readonly out: DeviceBuffer;
  readonly pinned: PinnedBuffer;
  readonly in: DeviceBuffer | null;
  readonly staging: PinnedBuffer | null;
  /** Recorded on the compute stream after compute(n): D2H(n) and H2D(n + depth) wait on it. */
  readonly computed: Event;
  /** Recorded on the copy stream after D2H(n): compute(n + depth) waits on it. */
  readonly copied: Event;
  /** Recorded on the upload stream after H2D(n): compute(n) waits on it. */
  readonly uploaded: Event | null;
  /** The D2H's options, re-tagged with the chunk index per copy (no object per chunk). */
  readonly copyTag: { chunk: number };
}

/** Everything a run allocates, closed in reverse order; close() never throws. */
export class ResourceBag {
  private items: Resource[] = [];
  add<T extends Resource>(r: T): T {
    this.items.push(r);
    return r;
  }
  /** Leaves `r` open on close(): someone else closes it later (a sink still reading it). */
  detach(r: Resource): void {
    const k = this.items.indexOf(r);
    if (k >= 0) this.items.splice(k, 1);
  }
  close(): void {
    const items = this.items;
    this.items = [];
    for (let k = items.length - 1; k >= 0; k--) {
      try {
        items[k]!.close();
      } catch {
        // Closing after a sticky fault may fail on a real device; the handles are gone either way.
      }
    }
  }
}

export function allocateSlot(device: Device, bag: ResourceBag, index: number, outputBytes: number, inputBytes: number, label: string): Slot {
  const out = bag.add(device.allocDevice(outputBytes, `${label} out[${index}]`));
  const pinned = bag.add(device.allocPinned(outputBytes, `${label} pinned out[${index}]`));
  const input = inputBytes > 0 ? bag.add(device.allocDevice(inputBytes, `${label} in[${index}]`)) : null;
  const staging = inputBytes > 0 ? bag.add(device.allocPinned(inputBytes, `${label} pinned in[${index}]`)) : null;
  return {
    index,
    out,
    pinned,
    in: input,
    staging,
    computed: bag.add(device.createEvent({ label: `${label} computed[${index}]` })),
    copied: bag.add(device.createEvent({ label: `${label} copied[${index}]` })),
    uploaded: inputBytes > 0 ? bag.add(device.createEvent({ label: `${label} uploaded[${index}]` })) : null,
    copyTag: { chunk: -1 },
  };
}
