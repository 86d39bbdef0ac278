// Samples NVML's utilization.gpu during a run, the coarse figure nvidia-smi shows and most posts
// quote, to print beside the strict kernel utilisation from device timestamps. NVML averages over
// its own window (1/6 s to 1 s depending on the GPU), so short runs get few distinct values.
// The timer is unref'd and each read is one short synchronous NVML call: the sampler never holds
// the event loop long, nor the process open.
import { NVML_SUCCESS } from '../cuda/constants.js';
import { nvml } from '../cuda/nvml.js';

export interface UtilizationSample {
  /** performance.now() ms, the clock of the pipeline's timeline. */
  t: number;
  /** utilization.gpu, percent. */
  gpu: number;
  /** utilization.memory, percent. */
  memory: number;
}

export interface UtilizationSummary {
  samples: number;
  mean: number | null;
  max: number | null;
  min: number | null;
}

export type UtilizationReader = () => { gpu: number; memory: number } | null;

/** A reader for the GPU at `pciBusId`, or null with the reason when NVML cannot tell. */
export function nvmlUtilizationReader(pciBusId: string): { read: UtilizationReader } | { read: null; reason: string } {
  const n = nvml();
  if (!n) return { read: null, reason: 'NVML (libnvidia-ml.so.1) not available' };
  const handle: (bigint | null)[] = [null];
  if (n.nvmlDeviceGetHandleByPciBusId_v2(pciBusId, handle) !== NVML_SUCCESS || handle[0] == null) {
    return { read: null, reason: `NVML has no device at PCI bus id ${pciBusId}` };
  }
  const h = handle[0];
  const out: { gpu?: number; memory?: number } = {};
  return {
    read: () =>
      n.nvmlDeviceGetUtilizationRates(h, out) === NVML_SUCCESS ? { gpu: out.gpu ?? 0, memory: out.memory ?? 0 } : null,
  };
}

export class UtilizationSampler {
  readonly samples: UtilizationSample[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly read: UtilizationReader,
    readonly intervalMs = 20,
  ) {}

  get running(): boolean {
    return this.timer !== null;
  }

  start(): this {
    if (this.timer) return this;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Stops sampling (idempotent) and returns the samples taken since start(). */
  stop(): UtilizationSample[] {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
      this.sample();
    }
    return this.samples;
  }

  /** Samples between two instants (a run's bounds), e.g. to attribute them to one cell. */
  between(start: number, end: number): UtilizationSample[] {
    return this.samples.filter((s) => s.t >= start && s.t <= end);
  }

  private sample(): void {
    try {
      const v = this.read();
      if (v) this.samples.push({ t: performance.now(), gpu: v.gpu, memory: v.memory });
    } catch {
      // A failing read (driver gone mid-run) only loses the sample; the run reports its own error.
    }
  }
}

export function summarizeUtilization(samples: readonly UtilizationSample[]): UtilizationSummary {
  if (samples.length === 0) return { samples: 0, mean: null, max: null, min: null };
  let sum = 0;
  let max = -Infinity;
  let min = Infinity;
  for (const s of samples) {
    sum += s.gpu;
    max = Math.max(max, s.gpu);
    min = Math.min(min, s.gpu);
  }
  return { samples: samples.length, mean: sum / samples.length, max, min };
}
