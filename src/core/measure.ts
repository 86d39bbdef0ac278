// Measurements `tandem info` and the benches share: copy bandwidth (device-timed with events)
// and kernel launch cost (host-timed: what a launch costs the calling thread).
import type { CudaDeviceCore } from './device.js';
import type { CudaStream } from './stream.js';

export interface BandwidthResult {
  bytes: number;
  /** GB/s (10^9 bytes per second). */
  gbps: number;
  /** How the time was taken. */
  method: 'events' | 'host';
}

const MiB = 1024 * 1024;

/** Pinned H2D / D2H, timed by events over `reps` copies of `bytes` after one warm-up. */
export async function measurePinnedBandwidth(
  device: CudaDeviceCore,
  bytes = 64 * MiB,
  reps = 10,
): Promise<{ h2d: BandwidthResult; d2h: BandwidthResult }> {
  using stream = device.createStream({ label: 'measure' });
  using dev = device.allocDevice(bytes, 'measure-device');
  using host = device.allocPinned(bytes, 'measure-pinned');
  host.bytes.fill(1);
  const time = async (dir: 'h2d' | 'd2h'): Promise<BandwidthResult> => {
    const copy = () => (dir === 'h2d' ? device.copy(stream, dev, host) : device.copy(stream, host, dev));
    copy();
    using start = device.createEvent({ timing: true, label: `${dir}-start` });
    using end = device.createEvent({ timing: true, label: `${dir}-end` });
    start.record(stream);
    for (let i = 0; i < reps; i++) copy();
    end.record(stream);
    await end.completion();
    const ms = end.elapsedMs(start);
    return { bytes, gbps: (bytes * reps) / (ms * 1e6), method: 'events' };
  };
  const h2d = await time('h2d');
  const d2h = await time('d2h');
  await stream.synchronize();
  return { h2d, d2h };
}

/**
 * D2H into a reused pageable Buffer (the habit pinned memory replaces). The driver stages the
 * copy and returns when it is done, so host time is the honest measure; the buffer is touched
 * once before timing so page faults are not counted.
 */
export async function measurePageableD2H(device: CudaDeviceCore, bytes = 64 * MiB, reps = 5): Promise<BandwidthResult> {
  using stream = device.createStream({ label: 'measure-pageable' });
  using dev = device.allocDevice(bytes, 'measure-device');
  const host = Buffer.alloc(bytes, 1);
  device.copyToPageable(stream, host, dev);
  await stream.synchronize();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) device.copyToPageable(stream, host, dev);
  await stream.synchronize();
  const ms = performance.now() - t0;
  return { bytes, gbps: (bytes * reps) / (ms * 1e6), method: 'host' };
}

export const EMPTY_KERNEL_SOURCE = `
extern "C" __global__ void empty() {}
extern "C" __global__ void four(float *out, const float *in, unsigned int n, float scale) {
  if (n == 0xffffffffu) out[0] = in[0] * scale;
}
`;

export interface LaunchCost {
  /** Mean host time per cuLaunchKernel, µs. */
  meanUs: number;
  launches: number;
}

/**
 * Mean host-side cost of `launches` back-to-back launches (after `warmup`), then one sync so
 * the queue never fills during the timed loop (an empty kernel runs faster than it launches).
 */
export async function measureLaunchCost(
  stream: CudaStream,
  launch: () => void,
  launches = 20000,
  warmup = 2000,
): Promise<LaunchCost> {
  for (let i = 0; i < warmup; i++) launch();
  await stream.synchronize();
  const t0 = performance.now();
  for (let i = 0; i < launches; i++) launch();
  const t1 = performance.now();
  await stream.synchronize();
  return { meanUs: ((t1 - t0) * 1000) / launches, launches };
}
