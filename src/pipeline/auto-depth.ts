// 'auto' depth: how many ring slots keep the slowest stage busy, from measured stage times.
//
// A slot is busy from the start of its chunk's upload/compute until the host releases it:
// cycle = upload + compute + copy + host wake-up + sink. The bottleneck stage takes B per chunk,
// so it never waits for a slot when depth × B ≥ cycle + jitter; one spare slot absorbs the rest.
//
// Two numbers. The host ring (depth: pinned slots) covers the whole cycle plus a jitter
// allowance, because a host pause stalls every copy the host has not enqueued yet: the copies it
// did enqueue run on. The device ring (deviceSlots) covers only the GPU-side cycle, upload +
// compute + copy, since barriers 1, 2 and 5 are event waits with no host in the loop: compute(n)
// waits on the copy of the device slot's previous user, so compute never runs more than
// deviceSlots chunks ahead of the copies while the host enqueues up to `depth` copies ahead.
// Why not one number: more device slots make the GPU itself slower once they outgrow the L2
// cache, even with no host in the loop; yet a ring small enough for the L2 holds less copy work
// than one young-generation collection lasts at small chunks. Pinned memory is not in the L2, so
// many host slots over few device slots ride out the pause at no cost to the GPU.
//
// Where the run starts: the ring an earlier run of this chunk size on this device decided on
// (ring-sizer.ts remembers it), else the slots the device's pool holds ready, else double
// buffering; never memory no measurement asked for. The run times chunks 1..WARMUP-1 (chunk 0
// pays first-launch costs) and resizes once. Growing mid-run is what costs: allocating pinned
// memory blocks the host (and so the copy engine) for milliseconds per 64 MiB, so the run grows
// only when the chunks it has left repay that stall (ring-sizer.ts); a decision it does not carry
// out is where the next run of the size starts.

import { median } from '../util/median.js';

/** The smallest depth 'auto' uses: double buffering. */
export const AUTO_START_DEPTH = 2;
/**
 * Host hiccups the measured cycle does not show: a young-generation collection, a timer firing
 * late. Covered by host slots only, which cost pinned memory, not L2.
 */
export const AUTO_JITTER_MS = 1;
/** Chunks timed before deciding (chunk 0 is timed but not used). */
export const AUTO_WARMUP = 4;
/** The deepest ring a pipeline takes: `depth` is 1..MAX_DEPTH or 'auto'. */
export const MAX_DEPTH = 16;
/**
 * Share of free device memory the ring's new device slots may take, and the pinned bytes it may
 * hold in all. Slots from buffers the device's pool holds ready take no free memory: free device
 * memory is asked (cuMemGetInfo, a driver round trip per call) only for slots beyond those.
 */
const DEVICE_MEMORY_SHARE = 0.5;
const PINNED_LIMIT = 4 * 1024 ** 3;

/** Free device memory in bytes, asked only when the ring would allocate device memory. */
export type FreeDeviceBytes = number | (() => number);

/**
 * Device slots of `bytesPerSlot` the ring may have: the `ready` ones, and new ones in
 * DEVICE_MEMORY_SHARE of the free memory.
 */
function deviceRoom(ready: number, bytesPerSlot: number, free: FreeDeviceBytes): number {
  const bytes = typeof free === 'function' ? free() : free;
  return ready + Math.floor((bytes * DEVICE_MEMORY_SHARE) / bytesPerSlot);
}

export interface StageSample {
  upload: number;
  compute: number;
  copy: number;
  sink: number;
  /** Host wake-up: from the copy's end on the GPU to the host seeing it done. */
  wake: number;
}

export interface DepthChoice {
  /** Host slots (pinned buffers): how far ahead the host may enqueue copies. */
  depth: number;
  /** Device slots (output buffers): how far compute may run ahead of the copies; <= depth. */
  deviceSlots: number;
  reason: string;
  /** The bottleneck stage's median time per chunk (ms). */
  bottleneckMs: number;
  /** How long a host slot takes to turn around, with the host-jitter allowance (ms). */
  turnMs: number;
  /** How long a device slot takes to turn around: upload + compute + copy (ms). */
  gpuCycleMs: number;
}

/**
 * Time per chunk a ring of `depth` host and `deviceSlots` device slots sustains under the measured
 * stages of `choice`: the bottleneck stage, or a slot's turnaround spread over the slots when
 * the ring is too small to hide it.
 */
export function chunkPeriodMs(choice: DepthChoice, depth: number, deviceSlots: number): number {
  return Math.max(choice.bottleneckMs, choice.turnMs / depth, choice.gpuCycleMs / deviceSlots);
}

/** The ring an 'auto' run starts with: host slots (depth) and device slots. */
export interface StartSize {
  depth: number;
  deviceSlots: number;
}

/**
 * The ring an 'auto' run starts with, before anything was measured: `remembered` (what an earlier
 * run of this chunk size on this device decided) when there is one, else the buffers the device's
 * pool holds ready (taking them pins nothing), else AUTO_START_DEPTH; within AUTO_START_DEPTH..
 * MAX_DEPTH and (when the input is a count) the chunk count. Device slots never exceed the host
 * slots; those beyond the pool's ready buffers fit in half the free device memory.
 */
export function autoStartSize(
  bytesPerSlot: number,
  freeDeviceBytes: FreeDeviceBytes,
  chunks: number | null,
  pooled: { pinned: number; device: number },
  remembered: StartSize | null = null,
): StartSize {
  const within = (n: number, max: number) => Math.max(AUTO_START_DEPTH, Math.min(max, n));
  const depth = within(remembered?.depth ?? pooled.pinned, Math.min(MAX_DEPTH, chunks ?? MAX_DEPTH));
  const deviceSlots = within(remembered?.deviceSlots ?? pooled.device, depth);
  if (deviceSlots <= Math.max(AUTO_START_DEPTH, pooled.device)) return { depth, deviceSlots };
  return { depth, deviceSlots: within(deviceRoom(pooled.device, bytesPerSlot, freeDeviceBytes), deviceSlots) };
}

const ms = (x: number) => `${x < 0.1 ? x.toFixed(3) : x.toFixed(2)} ms`;

/**
 * `outputBytes`: a host slot's pinned bytes (and a device slot's output buffer); `jitterMs`: host
 * hiccups to cover beyond the measured cycle (run.ts passes AUTO_JITTER_MS); `inputBytes`: a
 * device slot's input buffer and its pinned staging; `readyDeviceSlots`: device slots to be had
 * without allocating (held by the run, ready in the pool), which free memory does not cap.
 */
export function chooseDepth(
  samples: StageSample[],
  outputBytes: number,
  freeDeviceBytes: FreeDeviceBytes,
  jitterMs = 0,
  inputBytes = 0,
  readyDeviceSlots = 0,
): DepthChoice {
  const m: StageSample = {
    upload: median(samples.map((s) => s.upload)),
    compute: median(samples.map((s) => s.compute)),
    copy: median(samples.map((s) => s.copy)),
    sink: median(samples.map((s) => s.sink)),
    wake: median(samples.map((s) => s.wake)),
  };
  const stages = { upload: m.upload, compute: m.compute, copy: m.copy, sink: m.sink } as const;
  const [bottleneck, b] = Object.entries(stages).reduce((x, y) => (y[1] > x[1] ? y : x));
  const gpuCycle = m.upload + m.compute + m.copy;
  const cycle = gpuCycle + m.wake + m.sink;
  // Slots that keep the bottleneck busy while a slot turns around in `turnMs`: ceil(turn / B) + 1 spare.
  const perB = (turnMs: number) => turnMs / Math.max(b, 1e-6);
  const slotsFor = (turnMs: number) => Math.ceil(perB(turnMs) - 1e-9) + 1;
  const need = slotsFor(cycle + jitterMs);
  const pinnedCap = Math.max(AUTO_START_DEPTH, Math.floor(PINNED_LIMIT / (outputBytes + inputBytes)));
  const depth = Math.max(AUTO_START_DEPTH, Math.min(MAX_DEPTH, need, pinnedCap));
  const deviceNeed = slotsFor(gpuCycle);
  const deviceFree = Math.max(AUTO_START_DEPTH, readyDeviceSlots);
  const deviceCap =
    Math.min(depth, deviceNeed) <= deviceFree
      ? deviceFree
      : Math.max(AUTO_START_DEPTH, deviceRoom(readyDeviceSlots, outputBytes + inputBytes, freeDeviceBytes));
  const deviceSlots = Math.max(AUTO_START_DEPTH, Math.min(depth, deviceNeed, deviceCap));
  const measured =
    `measured (median of ${samples.length} chunks): ` +
    (m.upload > 0 ? `upload ${ms(m.upload)}, ` : '') +
    `compute ${ms(m.compute)}, copy ${ms(m.copy)}, sink ${ms(m.sink)}, host wake-up ${ms(m.wake)}`;
  const turn = jitterMs > 0 ? `${ms(cycle)} (+ ${ms(jitterMs)} for host jitter)` : ms(cycle);
  let why =
    `a slot turns around in ${turn} and the bottleneck (${bottleneck}) takes ${ms(b)} per chunk, ` +
    `so ceil(${perB(cycle + jitterMs).toFixed(2)}) + 1 spare = ${need} slots`;
  if (need > MAX_DEPTH) why += `, capped at ${MAX_DEPTH}`;
  if (pinnedCap < Math.min(need, MAX_DEPTH))
    why += `, capped at ${pinnedCap} by the ${PINNED_LIMIT / 1024 ** 3} GiB pinned limit`;
  if (need < AUTO_START_DEPTH) why += `; kept ${AUTO_START_DEPTH} (double buffering)`;
  why +=
    `; on the device ${deviceSlots} of them: the GPU-side cycle (${m.upload > 0 ? 'upload + ' : ''}compute + copy) ` +
    `takes ${ms(gpuCycle)}, ceil(${perB(gpuCycle).toFixed(2)}) + 1 spare = ${deviceNeed}`;
  if (deviceCap < Math.min(deviceNeed, depth))
    why +=
      `, capped at ${deviceCap} by device memory (` +
      (readyDeviceSlots > 0 ? `${readyDeviceSlots} ready, new ones in ` : '') +
      `${DEVICE_MEMORY_SHARE * 100}% of free)`;
  if (deviceSlots < depth)
    why += ` (fewer device buffers stay in the GPU's L2 cache; the host still enqueues copies ${depth} chunks ahead)`;
  return {
    depth,
    deviceSlots,
    reason: `auto depth ${depth}, ${deviceSlots} on the device: ${measured}; ${why}`,
    bottleneckMs: b,
    turnMs: cycle + jitterMs,
    gpuCycleMs: gpuCycle,
  };
}
