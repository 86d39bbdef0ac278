// The ring, in two halves: device slots (output buffer, optional input buffer and its pinned
// staging, the compute/upload events) and host slots (the pinned output buffer, the copy event).
// A chunk takes one of each; a run may have fewer device slots than host slots. Every barrier is
// keyed on the slot's previous user, not on n - depth, so either half can be resized once
// mid-run ('auto' depth) without breaking any of them.
import type { DeviceCore, DeviceBuffer, Event, PinnedBuffer, Resource } from '../core/types.js';

/**
 * The device side of a slot: what compute(n) writes and D2H(n) reads. Few of these keep the
 * ring's device memory in the GPU's L2 cache; the GPU-side barriers (1, 2, 5) turn them around
 * with no host in the loop.
 */
export interface DeviceSlot {
  readonly index: number;
  readonly out: DeviceBuffer;
  readonly in: DeviceBuffer | null;
  readonly staging: PinnedBuffer | null;
  /** Recorded on the compute stream after compute(n): D2H(n) and the slot's next H2D wait on it. */
  readonly computed: Event;
  /** Recorded on the upload stream after H2D(n): compute(n) waits on it. */
  readonly uploaded: Event | null;
}

/**
 * The host side of a slot: the pinned buffer D2H(n) writes and the host stage reads. More of
 * these than device slots lets the host enqueue copies further ahead, so a host pause (a GC
 * scavenge) does not idle the copy engine; pinned memory is not in the L2.
 */
export interface HostSlot {
  readonly index: number;
  readonly pinned: PinnedBuffer;
  /** Recorded on the copy stream after D2H(n): the host and the device slot's next compute wait on it. */
  readonly copied: Event;
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

export function allocateDeviceSlot(
  device: DeviceCore,
  bag: ResourceBag,
  index: number,
  outputBytes: number,
  inputBytes: number,
  label: string,
): DeviceSlot {
  const out = bag.add(device.allocDevice(outputBytes, `${label} out[${index}]`));
  const input = inputBytes > 0 ? bag.add(device.allocDevice(inputBytes, `${label} in[${index}]`)) : null;
  const staging = inputBytes > 0 ? bag.add(device.allocPinned(inputBytes, `${label} pinned in[${index}]`)) : null;
  return {
    index,
    out,
    in: input,
    staging,
    computed: bag.add(device.createEvent({ label: `${label} computed[${index}]` })),
    uploaded: inputBytes > 0 ? bag.add(device.createEvent({ label: `${label} uploaded[${index}]` })) : null,
  };
}

export function allocateHostSlot(
  device: DeviceCore,
  bag: ResourceBag,
  index: number,
  outputBytes: number,
  label: string,
): HostSlot {
  return {
    index,
    pinned: bag.add(device.allocPinned(outputBytes, `${label} pinned out[${index}]`)),
    copied: bag.add(device.createEvent({ label: `${label} copied[${index}]` })),
    copyTag: { chunk: -1 },
  };
}

/**
 * Where a run's ring gets its slots, by index: the one place that decides how the ring's buffers
 * and events are allocated (and into which bag, so the run frees them).
 */
export interface SlotAllocator {
  device(index: number): DeviceSlot;
  host(index: number): HostSlot;
}

/** Slots allocated fresh from `device`, owned by `bag`. */
export function slotAllocator(
  device: DeviceCore,
  bag: ResourceBag,
  outputBytes: number,
  inputBytes: number,
  label: string,
): SlotAllocator {
  return {
    device: (index) => allocateDeviceSlot(device, bag, index, outputBytes, inputBytes, label),
    host: (index) => allocateHostSlot(device, bag, index, outputBytes, label),
  };
}

/**
 * A ring a Pipeline keeps between runs (options.keepRing): its slots and the bag that owns them,
 * with what allocating them cost (so 'auto' still weighs growing against the real price).
 */
export interface KeptRing {
  readonly bag: ResourceBag;
  readonly host: readonly HostSlot[];
  readonly device: readonly DeviceSlot[];
  readonly allocMsPerHostSlot: number;
  readonly allocMsPerDeviceSlot: number;
}

/** Every buffer and event of a kept ring still open (a closed device closes what it made). */
export function keptRingUsable(r: KeptRing): boolean {
  const open = (x: { closed: boolean } | null) => x === null || !x.closed;
  return (
    r.host.every((s) => open(s.pinned) && open(s.copied)) &&
    r.device.every((s) => open(s.out) && open(s.in) && open(s.staging) && open(s.computed) && open(s.uploaded))
  );
}

/** How a run takes a Pipeline's kept ring and hands it back (or its own, for the next run). */
export interface RingKeeper {
  take(): KeptRing | null;
  /** The run ended with its ring reusable: keep it (or close it, if one is kept already or the pipeline closed). */
  give(ring: KeptRing): void;
}
