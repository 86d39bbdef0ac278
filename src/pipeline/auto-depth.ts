// 'auto' depth: how many ring slots keep the slowest stage busy, from measured stage times.
//
// A slot is busy from the start of its chunk's upload/compute until the host releases it:
// cycle = upload + compute + copy + host wake-up + sink. The bottleneck stage takes B per chunk,
// so it never waits for a slot when depth × B ≥ cycle; one spare slot absorbs jitter.
// The run starts at depth 2, times chunks 1..WARMUP-1 (chunk 0 pays first-launch costs), then
// grows the ring once.

export const AUTO_START_DEPTH = 2;
/** Chunks timed before deciding (chunk 0 is timed but not used). */
export const AUTO_WARMUP = 4;
export const MAX_DEPTH = 16;
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
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const ms = (x: number) => `${x < 0.1 ? x.toFixed(3) : x.toFixed(2)} ms`;

export function chooseDepth(samples: StageSample[], bytesPerSlot: number, freeDeviceBytes: number): DepthChoice {
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
  const need = Math.ceil(cycle / Math.max(b, 1e-6) - 1e-9) + 1;
  const memCap = Math.max(AUTO_START_DEPTH, Math.floor(Math.min((freeDeviceBytes * DEVICE_MEMORY_SHARE) / bytesPerSlot, PINNED_LIMIT / bytesPerSlot)));
  const depth = Math.max(AUTO_START_DEPTH, Math.min(MAX_DEPTH, need, memCap));
  const measured =
    `measured (median of ${samples.length} chunks): ` +
    (m.upload > 0 ? `upload ${ms(m.upload)}, ` : '') +
    `compute ${ms(m.compute)}, copy ${ms(m.copy)}, sink ${ms(m.sink)}, host wake-up ${ms(m.wake)}`;
  let why = `a slot turns around in ${ms(cycle)} and the bottleneck (${bottleneck}) takes ${ms(b)} per chunk, so ceil(${(cycle / Math.max(b, 1e-6)).toFixed(2)}) + 1 spare = ${need} slots`;
  if (need > MAX_DEPTH) why += `, capped at ${MAX_DEPTH}`;
  if (memCap < Math.min(need, MAX_DEPTH)) why += `, capped at ${memCap} by memory (${DEVICE_MEMORY_SHARE * 100}% of free device memory, ${PINNED_LIMIT / 1024 ** 3} GiB pinned)`;
  if (need < AUTO_START_DEPTH) why += `; kept ${AUTO_START_DEPTH} (double buffering)`;
  return { depth, reason: `auto depth ${depth}: ${measured}; ${why}` };
}
