// A gate for timing GPU work as the pipeline sees it: a one-thread kernel that keeps `stream`
// busy for a set time (read from %globaltimer, so clocks do not matter) while the host enqueues
// the work behind it. Timing events recorded after the hold then bracket kernels that were all
// queued before the first one started: back-to-back GPU time, with none of the host's launch
// cost inside it. Without the gate a probe of a few short kernels times the host's launches, not
// the kernels.
import type { Kernel, Program, Stream } from '../core/types.js';
import type { Device } from '../pipeline/device.js';

export const HOLD_KERNEL = 'tandem_hold';

const HOLD_SOURCE = String.raw`
extern "C" __global__ void ${HOLD_KERNEL}(unsigned long long ns) {
  unsigned long long t0, t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do {
    __nanosleep(2000);
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  } while (t - t0 < ns);
}
`;

const holds = new WeakMap<Device, { program: Program; kernel: Kernel }>();

/** The hold kernel for `device`, compiled once per device (its module goes with the context). */
function holdKernel(device: Device): Kernel {
  let h = holds.get(device);
  if (!h || h.program.closed) {
    const program = device.compile(HOLD_SOURCE, { kernels: { [HOLD_KERNEL]: ['u64'] }, name: 'hold.cu' });
    h = { program, kernel: program.getKernel(HOLD_KERNEL, ['u64']) };
    holds.set(device, h);
  }
  return h.kernel;
}

/** Keeps `stream` busy for `ms` (GPU time) from when the GPU reaches this launch. */
export function hold(device: Device, stream: Stream, ms: number): void {
  holdKernel(device).launch(stream, { grid: 1, block: 1 }, BigInt(Math.max(0, Math.round(ms * 1e6))));
}

export interface GatedTiming {
  /** GPU ms of all the work, summed over batches. */
  ms: number;
  /** Batches whose gate held until every launch of the batch was queued. */
  gatedBatches: number;
  batches: number;
}

/**
 * Times `count` items enqueued by `enqueue(k)` on `stream`, in batches behind a hold: GPU time
 * only. A batch whose start event had already completed when its last item was enqueued was not
 * gated (the GPU caught up with the host): it is retried with a longer hold and a smaller batch,
 * up to three times, then kept as measured (counted in the result).
 */
export async function gatedGpuMs(
  device: Device,
  stream: Stream,
  count: number,
  enqueue: (k: number) => void | Promise<void>,
  options: { batch?: number } = {},
): Promise<GatedTiming> {
  const start = device.createEvent({ timing: true, label: 'gated start' });
  const end = device.createEvent({ timing: true, label: 'gated end' });
  let batch = Math.max(1, options.batch ?? 128);
  let holdMs = 2;
  let ms = 0;
  let gatedBatches = 0;
  let batches = 0;
  try {
    for (let k0 = 0; k0 < count;) {
      for (let attempt = 0; ; attempt++) {
        const n = Math.min(batch, count - k0);
        hold(device, stream, holdMs);
        start.record(stream);
        const t0 = performance.now();
        for (let k = k0; k < k0 + n; k++) await enqueue(k);
        end.record(stream);
        const enqueueMs = performance.now() - t0;
        const gated = !start.isDone();
        await end.completion();
        // Next hold: comfortably longer than this batch took to enqueue.
        holdMs = Math.min(200, Math.max(holdMs, 2 * enqueueMs + 0.5));
        if (gated || attempt >= 3) {
          ms += end.elapsedMs(start);
          batches++;
          if (gated) gatedBatches++;
          k0 += n;
          break;
        }
        holdMs = Math.min(200, holdMs * 4);
        batch = Math.max(1, batch >> 1);
      }
    }
    return { ms, gatedBatches, batches };
  } finally {
    start.close();
    end.close();
  }
}
