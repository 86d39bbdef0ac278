// The ring, in two halves: device slots (output buffer, optional input buffer and its pinned
// staging, the compute/upload events) and host slots (the pinned output buffer, the copy event).
// A chunk takes one of each; a run may have fewer device slots than host slots. Every barrier is
// keyed on the slot's previous user, not on n - depth, so either half can be resized once
// mid-run ('auto' depth) without breaking any of them.
import type { DevicePool } from '../core/pool.js';
import type {
  DeviceCore,
  DeviceBuffer,
  Event,
  EventOptions,
  PinnedBuffer,
  Resource,
  Stream,
  StreamOptions,
} from '../core/types.js';

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

/**
 * Everything a run allocates, closed in reverse order; close() never throws. What it takes from
 * the device's pool (stream(), event(), pinned(), deviceBuffer()) goes back to the pool on close()
 * instead, with the fences of its last use, for the next run of any pipeline on the device.
 */
export class ResourceBag {
  private items: Resource[] = [];
  /** Items taken from a pool, and the pool each goes back to. */
  private readonly pooled = new Map<Resource, DevicePool>();
  add<T extends Resource>(r: T): T {
    this.items.push(r);
    return r;
  }
  stream(device: DeviceCore, options: StreamOptions): Stream {
    return this.take(device, (p) => p.acquireStream(options)) ?? this.add(device.createStream(options));
  }
  event(device: DeviceCore, options: EventOptions): Event {
    return this.take(device, (p) => p.acquireEvent(options)) ?? this.add(device.createEvent(options));
  }
  pinned(device: DeviceCore, bytes: number, label: string): PinnedBuffer {
    return this.take(device, (p) => p.acquirePinned(bytes, label)) ?? this.add(device.allocPinned(bytes, label));
  }
  /** Device memory first used on `stream` (a reused buffer's fences become GPU-side waits there). */
  deviceBuffer(device: DeviceCore, bytes: number, label: string, stream: Stream): DeviceBuffer {
    return (
      this.take(device, (p) => p.acquireDevice(bytes, label, stream)) ?? this.add(device.allocDevice(bytes, label))
    );
  }
  /** Leaves `r` open on close(): someone else closes it later (a sink still reading it). */
  detach(r: Resource): void {
    const k = this.items.indexOf(r);
    if (k >= 0) this.items.splice(k, 1);
  }
  /**
   * Hands pooled items back with `fences` (events recorded after their last use) and closes the
   * rest; with `discard` (a lost context: nothing in it can be used again) closes everything.
   */
  close(fences: readonly Event[] = [], discard = false): void {
    const items = this.items;
    this.items = [];
    for (let k = items.length - 1; k >= 0; k--) {
      const r = items[k]!;
      const pool = this.pooled.get(r);
      try {
        if (pool && !discard) pool.release(r as Stream, fences);
        else {
          r.close();
          pool?.release(r as Stream);
        }
      } catch {
        // Closing after a sticky fault may fail on a real device; the handles are gone either way.
      }
    }
    this.pooled.clear();
  }
  private take<T extends Resource>(device: DeviceCore, acquire: (pool: DevicePool) => T): T | null {
    // A device without a pool (a caller's own Device implementation) allocates as before.
    if (!device.pool) return null;
    const r = acquire(device.pool);
    this.pooled.set(r, device.pool);
    return this.add(r);
  }
}

export function allocateDeviceSlot(
  device: DeviceCore,
  bag: ResourceBag,
  index: number,
  outputBytes: number,
  inputBytes: number,
  label: string,
  streams: { compute: Stream; upload: Stream },
): DeviceSlot {
  const out = bag.deviceBuffer(device, outputBytes, `${label} out[${index}]`, streams.compute);
  const input = inputBytes > 0 ? bag.deviceBuffer(device, inputBytes, `${label} in[${index}]`, streams.upload) : null;
  const staging = inputBytes > 0 ? bag.pinned(device, inputBytes, `${label} pinned in[${index}]`) : null;
  return {
    index,
    out,
    in: input,
    staging,
    computed: bag.event(device, { label: `${label} computed[${index}]` }),
    uploaded: inputBytes > 0 ? bag.event(device, { label: `${label} uploaded[${index}]` }) : null,
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
    pinned: bag.pinned(device, outputBytes, `${label} pinned out[${index}]`),
    copied: bag.event(device, { label: `${label} copied[${index}]` }),
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

/**
 * Slots from `device` (through its pool where it has one), owned by `bag`; a device buffer is reused
 * on `streams` (the compute or upload stream that writes it) with a GPU-side wait.
 */
export function slotAllocator(
  device: DeviceCore,
  bag: ResourceBag,
  outputBytes: number,
  inputBytes: number,
  label: string,
  streams: { compute: Stream; upload: Stream },
): SlotAllocator {
  return {
    device: (index) => allocateDeviceSlot(device, bag, index, outputBytes, inputBytes, label, streams),
    host: (index) => allocateHostSlot(device, bag, index, outputBytes, label),
  };
}

/**
 * Fences for handing a run's ring and streams back to the pool: one event per stream, recorded
 * after the run's last work there. None where the device has no pool or is no longer usable
 * (then the bag closes what it cannot hand back fenced).
 */
export function ringFences(device: DeviceCore, streams: Iterable<Stream>): Event[] {
  try {
    return device.pool?.fence(streams) ?? [];
  } catch {
    return [];
  }
}

/**
 * Host ms a new host slot and a new device slot would block for, from the pool's latest
 * allocations (null before it made any pinned buffer).
 */
export function slotAllocMs(
  pool: DevicePool,
  outputBytes: number,
  inputBytes: number,
): { host: number; device: number } | null {
  const host = pool.allocMs('pinned', outputBytes);
  if (host === null) return null;
  const dev = (bytes: number) => pool.allocMs('device', bytes) ?? 0;
  const staging = inputBytes > 0 ? (pool.allocMs('pinned', inputBytes) ?? 0) + dev(inputBytes) : 0;
  return { host, device: dev(outputBytes) + staging };
}
