// 'auto' depth: how many ring slots keep the slowest stage busy, from measured stage times.
//
// A slot is busy from the start of its chunk's upload/compute until the host releases it:
// cycle = upload + compute + copy + host wake-up + sink. The bottleneck stage takes B per chunk,
// so it never waits for a slot when depth × B ≥ cycle + jitter; one spare slot absorbs the rest.
//
// The L2 cap. More slots are not free on the GPU: once the ring's device buffers outgrow the L2
// cache, the kernels and the copy engine run a little slower. On an H100 (50 MiB of L2), 4 MiB
// chunks, the same pipeline at depth 3 / 6 / 9 / 16 ran copy-bound at 0.9956 / 0.9958 / 0.9862 /
// 0.9830 of the D2H alone (bench/overlap.ts, one run), and with no host in the loop at all 16
// slots were 0.5 % slower than 3 (bench/probe-gpu-only.ts). So where the jitter allowance asks
// for a ring larger than L2_SHARE of the L2 cache, the depth is capped there, but never below
// what the measured cycle itself needs (no allowance). 1 MiB chunks still get 16 slots; 64 MiB
// chunks get the bare need (3–4).
//
// Where the run starts: as many slots as AUTO_START_BYTES holds (2..16, no more than the chunks
// of a counted input). Small slots are cheap and small chunks are where the host's latency
// (its wake-up, a GC pause: tens to hundreds of µs) is long against a stage time of 10–100 µs;
// growing mid-run is what costs, because allocating pinned memory blocks the host (and so the
// copy engine) for milliseconds per 64 MiB. The run times chunks 1..WARMUP-1 (chunk 0 pays
// first-launch costs) and grows the ring once if the measurement asks for more slots and the
// allocation stall fits the GPU work already queued (see run.ts).

import { median } from '../util/median.js';

/** The smallest depth 'auto' uses: double buffering. */
export const AUTO_START_DEPTH = 2;
/** Ring bytes (output + input per slot) that 'auto' allocates before anything was measured. */
export const AUTO_START_BYTES = 256 * 1024 ** 2;
/** Host hiccups the measured cycle does not show (a GC scavenge, a timer firing late). */
export const AUTO_JITTER_MS = 0.5;
/** Chunks timed before deciding (chunk 0 is timed but not used). */
export const AUTO_WARMUP = 4;
export const MAX_DEPTH = 16;
/** Share of the L2 cache the ring's device buffers should stay within (see the header). */
export const L2_SHARE = 0.5;
/** Share of free device memory, and pinned bytes in all, the ring may take when growing. */
const DEVICE_MEMORY_SHARE = 0.5;
const PINNED_LIMIT = 4 * 1024 ** 3;

export interface StageSample {
  upload: number;
  compute: number;
  copy: number;
  sink: number;
  /** Host wake-up: from the copy's end on the GPU to the host seeing it done. */
  wake: number;
}

export interface DepthChoice {
  depth: number;
  reason: string;
  /** The bottleneck stage's median time per chunk (ms). */
  bottleneckMs: number;
}

/**
 * The depth an 'auto' run starts with: what AUTO_START_BYTES holds, within AUTO_START_DEPTH..
 * MAX_DEPTH, half the free device memory, and (when the input is a count) the chunk count.
 */
export function autoStartDepth(bytesPerSlot: number, freeDeviceBytes: number, chunks: number | null): number {
  let d = Math.min(MAX_DEPTH, Math.floor(AUTO_START_BYTES / bytesPerSlot), Math.floor((freeDeviceBytes * DEVICE_MEMORY_SHARE) / bytesPerSlot));
  if (chunks !== null) d = Math.min(d, chunks);
  return Math.max(AUTO_START_DEPTH, d);
}

const ms = (x: number) => `${x < 0.1 ? x.toFixed(3) : x.toFixed(2)} ms`;

/**
 * `jitterMs`: host hiccups to cover beyond the measured cycle (run.ts passes AUTO_JITTER_MS);
 * `l2Bytes`: the GPU's L2 cache (0: unknown, no cap).
 */
export function chooseDepth(samples: StageSample[], bytesPerSlot: number, freeDeviceBytes: number, jitterMs = 0, l2Bytes = 0): DepthChoice {
  const m: StageSample = {
    upload: median(samples.map((s) => s.upload)),
    compute: median(samples.map((s) => s.compute)),
    copy: median(samples.map((s) => s.copy)),
    sink: median(samples.map((s) => s.sink)),
    wake: median(samples.map((s) => s.wake)),
  };
  const stages = { upload: m.upload, compute: m.compute, copy: m.copy, sink: m.sink } as const;
  const [bottleneck, b] = Object.entries(stages).reduce((x, y) => (y[1] > x[1] ? y : x));
  const cycle = m.upload + m.compute + m.copy + m.wake + m.sink;
  // Slots that keep the bottleneck busy while a slot turns around in `turnMs`: ceil(turn / B) + 1 spare.
  const perB = (turnMs: number) => turnMs / Math.max(b, 1e-6);
  const slotsFor = (turnMs: number) => Math.ceil(perB(turnMs) - 1e-9) + 1;
  const need = slotsFor(cycle + jitterMs);
  const memCap = Math.max(AUTO_START_DEPTH, Math.floor(Math.min((freeDeviceBytes * DEVICE_MEMORY_SHARE) / bytesPerSlot, PINNED_LIMIT / bytesPerSlot)));
  let depth = Math.max(AUTO_START_DEPTH, Math.min(MAX_DEPTH, need, memCap));
  const bare = slotsFor(cycle);
  const l2Cap = l2Bytes > 0 ? Math.floor((l2Bytes * L2_SHARE) / bytesPerSlot) : Infinity;
  const l2Depth = Math.max(AUTO_START_DEPTH, Math.min(depth, Math.max(bare, l2Cap)));
  const l2Capped = l2Depth < depth;
  depth = l2Depth;
  const measured =
    `measured (median of ${samples.length} chunks): ` +
    (m.upload > 0 ? `upload ${ms(m.upload)}, ` : '') +
    `compute ${ms(m.compute)}, copy ${ms(m.copy)}, sink ${ms(m.sink)}, host wake-up ${ms(m.wake)}`;
  const turn = jitterMs > 0 ? `${ms(cycle)} (+ ${ms(jitterMs)} for host jitter)` : ms(cycle);
  let why = `a slot turns around in ${turn} and the bottleneck (${bottleneck}) takes ${ms(b)} per chunk, so ceil(${perB(cycle + jitterMs).toFixed(2)}) + 1 spare = ${need} slots`;
  if (need > MAX_DEPTH) why += `, capped at ${MAX_DEPTH}`;
  if (memCap < Math.min(need, MAX_DEPTH)) why += `, capped at ${memCap} by memory (${DEVICE_MEMORY_SHARE * 100}% of free device memory, ${PINNED_LIMIT / 1024 ** 3} GiB pinned)`;
  if (l2Capped) {
    const mib = (x: number) => `${+(x / 1024 ** 2).toFixed(1)} MiB`;
    why +=
      l2Cap >= bare
        ? `; capped at ${depth} so the ring (${depth} × ${mib(bytesPerSlot)}) stays within ${L2_SHARE * 100}% of the ${mib(l2Bytes)} L2 cache: a larger ring makes the GPU slower`
        : `; ${depth} slots, what the cycle needs without the jitter allowance: a ring past ${L2_SHARE * 100}% of the ${mib(l2Bytes)} L2 cache makes the GPU slower`;
  }
  if (need < AUTO_START_DEPTH) why += `; kept ${AUTO_START_DEPTH} (double buffering)`;
  return { depth, reason: `auto depth ${depth}: ${measured}; ${why}`, bottleneckMs: b };
}
