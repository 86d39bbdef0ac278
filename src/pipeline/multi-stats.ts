// Statistics of a multi-device run: totals, each device's share, and which stage (or device)
// held the run back, when the measurements can tell.
import type { Device } from './device.js';
import type { DeviceShare, MultiBottleneck, MultiPipelineStats } from './multi-types.js';
import type { PipelineMode, PipelineStats } from './types.js';

/** A stage busy at least this share of the wall time is the one holding the run back. */
export const BOUND_FRACTION = 0.9;

export interface MultiMeasurements {
  devices: readonly Device[];
  deviceStats: readonly PipelineStats[];
  chunks: number;
  wallMs: number;
  sinkBusyMs: number;
  sinkConcurrency: number;
  inputWaitMs: number;
  maxHeld: number;
  reorderWaitMs: number;
  waitedOnMs: readonly number[];
  waitedForSlotMs: readonly number[];
  lookahead: number | 'ring';
  outputBytes: number;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function buildMultiStats(m: MultiMeasurements): MultiPipelineStats {
  const wall = m.wallMs;
  const perDevice: DeviceShare[] = m.deviceStats.map((s, d) => {
    const busy = { upload: s.stages.upload.busyMs, compute: s.stages.compute.busyMs, copy: s.stages.copy.busyMs };
    let busiest: DeviceShare['busiestStage'] = null;
    let best = -1;
    if (busy.compute !== null && busy.copy !== null) {
      for (const k of ['upload', 'compute', 'copy'] as const) {
        const b = busy[k] ?? 0;
        if (b > best) {
          best = b;
          busiest = k;
        }
      }
    }
    const dev = m.devices[d]!;
    return {
      deviceIndex: d,
      ordinal: dev.ordinal,
      name: dev.properties.name,
      chunks: s.chunks,
      share: m.chunks > 0 ? s.chunks / m.chunks : 0,
      stats: s,
      wallMs: s.wallMs,
      efficiency: busiest && s.wallMs > 0 ? best / s.wallMs : null,
      gpuBusyFraction: busiest && wall > 0 ? best / wall : null,
      busiestStage: busiest,
      waitedOnMs: m.waitedOnMs[d] ?? 0,
      waitedForSlotMs: m.waitedForSlotMs[d] ?? 0,
    };
  });
  const sinkFraction = wall > 0 ? m.sinkBusyMs / (wall * m.sinkConcurrency) : 0;
  const bytesIn = m.deviceStats.reduce((a, s) => a + s.bytesIn, 0);
  return {
    devices: m.devices.length,
    chunks: m.chunks,
    bytesOut: m.chunks * m.outputBytes,
    bytesIn,
    wallMs: wall,
    bytesPerSecond: wall > 0 ? (m.chunks * m.outputBytes) / (wall / 1000) : 0,
    chunksPerSecond: wall > 0 ? m.chunks / (wall / 1000) : 0,
    sink: { busyMs: m.sinkBusyMs, concurrency: m.sinkConcurrency, busyFraction: sinkFraction },
    inputWaitMs: m.inputWaitMs,
    reorder: { maxHeld: m.maxHeld, waitMs: m.reorderWaitMs },
    lookahead: m.lookahead,
    perDevice,
    bottleneck: bottleneckOf(perDevice, sinkFraction, wall > 0 ? m.inputWaitMs / wall : 0, wall, m.chunks),
  };
}

export function bottleneckOf(
  devices: readonly DeviceShare[],
  sinkFraction: number,
  inputFraction: number,
  wallMs: number,
  chunks: number,
): MultiBottleneck {
  if (chunks === 0 || wallMs <= 0) return { stage: null, device: null, reason: 'no chunks ran' };
  if (sinkFraction >= BOUND_FRACTION) {
    return {
      stage: 'sink',
      device: null,
      reason: `the sink was busy ${pct(sinkFraction)} of the wall time: sink-bound (more devices will not help; a faster sink or more sinkConcurrency may)`,
    };
  }
  if (inputFraction >= BOUND_FRACTION) {
    return {
      stage: 'input',
      device: null,
      reason: `waiting for the input iterable took ${pct(inputFraction)} of the wall time: input-bound`,
    };
  }
  const traced = devices.every((d) => d.gpuBusyFraction !== null);
  if (traced) {
    const bound = devices.filter((d) => d.gpuBusyFraction! >= BOUND_FRACTION);
    if (bound.length === devices.length) {
      const stages = new Set(bound.map((d) => d.busiestStage));
      const stage = stages.size === 1 ? [...stages][0]! : null;
      const lo = Math.min(...bound.map((d) => d.gpuBusyFraction!));
      if (stage === 'copy') {
        return {
          stage: 'copy',
          device: null,
          reason:
            `D2H was busy ≥ ${pct(lo)} of the wall time on every device: PCIe-bound (each card's link, ` +
            `or the host's shared lanes if copyThroughput.busy per device is below one card's pinned peak)`,
        };
      }
      if (stage)
        return {
          stage,
          device: null,
          reason: `${stage} was busy ≥ ${pct(lo)} of the wall time on every device: ${stage}-bound`,
        };
      return {
        stage: null,
        device: null,
        reason: `every device was busy ≥ ${pct(lo)} of the wall time, on different stages`,
      };
    }
    if (bound.length > 0) {
      const worst = bound.reduce((a, b) => (b.gpuBusyFraction! > a.gpuBusyFraction! ? b : a));
      return {
        stage: 'device',
        device: worst.deviceIndex,
        reason:
          `device ${worst.ordinal} (pipeline ${worst.deviceIndex}) was ${worst.busiestStage}-bound ` +
          `(${pct(worst.gpuBusyFraction!)} busy) while others were not: the slowest device holds the ordered output back`,
      };
    }
  }
  // A device holds the others back when it delivered clearly fewer chunks than an even share and
  // the ordered output waited on it far more per chunk than on any other device. (Total wait
  // alone would blame the device with most chunks; with equal devices taking turns, the output
  // always waits on whichever is next, which blames nobody.)
  const rate = (d: DeviceShare) => (d.chunks > 0 ? d.waitedOnMs / d.chunks : 0);
  const waited = devices.reduce((a, b) => (rate(b) > rate(a) ? b : a));
  const otherRate = Math.max(0, ...devices.filter((d) => d !== waited).map(rate));
  if (
    devices.length > 1 &&
    waited.share < 0.8 / devices.length &&
    waited.waitedOnMs / wallMs >= 0.3 &&
    rate(waited) > 2 * otherRate
  ) {
    return {
      stage: 'device',
      device: waited.deviceIndex,
      reason:
        `the ordered output stood waiting for device ${waited.ordinal} (pipeline ${waited.deviceIndex}) ` +
        `${pct(waited.waitedOnMs / wallMs)} of the wall time, ` +
        `${(rate(waited) / Math.max(otherRate, 1e-9)).toFixed(1)}× longer per chunk than for any other device`,
    };
  }
  return {
    stage: null,
    device: null,
    reason: traced
      ? `no stage was busy ≥ ${pct(BOUND_FRACTION)} of the wall time (sink ${pct(sinkFraction)}): latency-bound; a deeper ring or more lookahead may help`
      : `the sink was busy ${pct(sinkFraction)} of the wall time; run with trace: true to time the GPU stages and tell compute from PCIe`,
  };
}

/**
 * A multi-device run's statistics in the single-pipeline shape the results, tables and render
 * summary use: totals and wall of the whole run; stage busy times and depth from device 0's
 * pipeline (per-device figures stay in `perDevice`); efficiency left to the caller, who knows
 * the stages alone.
 */
export function multiAsPipelineStats(m: MultiPipelineStats, mode: PipelineMode): PipelineStats {
  const first = m.perDevice[0]?.stats;
  const stage = m.bottleneck.stage;
  return {
    mode,
    depth: first?.depth ?? 0,
    deviceSlots: first?.deviceSlots ?? 0,
    chunks: m.chunks,
    bytesOut: m.bytesOut,
    bytesIn: m.bytesIn,
    wallMs: m.wallMs,
    stages: {
      upload: { busyMs: first?.stages.upload.busyMs ?? null },
      compute: { busyMs: first?.stages.compute.busyMs ?? null },
      copy: { busyMs: first?.stages.copy.busyMs ?? null },
      sink: { busyMs: m.sink.busyMs },
    },
    bottleneck: stage === 'upload' || stage === 'compute' || stage === 'copy' || stage === 'sink' ? stage : null,
    efficiency: null,
    copyThroughput: { busy: null, wall: m.bytesPerSecond },
    ...(first?.depthReason ? { depthReason: first.depthReason } : {}),
  };
}

/** Per-device shares of a multi-device run, for results and summaries. */
export function deviceShares(
  m: MultiPipelineStats,
): { ordinal: number; name: string; chunks: number; share: number; wallMs: number }[] {
  return m.perDevice.map((d) => ({
    ordinal: d.ordinal,
    name: d.name,
    chunks: d.chunks,
    share: d.share,
    wallMs: d.wallMs,
  }));
}
