// PipelineStats from what a run measured. GPU busy times exist only with trace (timing events);
// the host stage is always timed on the host. efficiency = max(Σ stage busy) / wall (docs/design.md).
import type { ChunkTiming, PipelineMode, PipelineStats } from './types.js';

export interface RunMeasurements {
  mode: PipelineMode;
  depth: number;
  deviceSlots: number;
  chunks: number;
  bytesOut: number;
  bytesIn: number;
  wallMs: number;
  uploads: boolean;
  traced: boolean;
  busy: { upload: number; compute: number; copy: number };
  sinkBusy: number;
  timeline: ChunkTiming[] | null;
  depthReason: string | undefined;
}

export function buildStats(m: RunMeasurements): PipelineStats {
  const gpu = (x: number) => (m.traced ? x : null);
  const stages = {
    upload: { busyMs: m.uploads ? gpu(m.busy.upload) : 0 },
    compute: { busyMs: gpu(m.busy.compute) },
    copy: { busyMs: gpu(m.busy.copy) },
    sink: { busyMs: m.sinkBusy },
  };
  let bottleneck: PipelineStats['bottleneck'] = null;
  let efficiency: number | null = null;
  if (m.traced) {
    let best = -1;
    for (const k of ['upload', 'compute', 'copy', 'sink'] as const) {
      const b = stages[k].busyMs!;
      if (b > best) {
        best = b;
        bottleneck = k;
      }
    }
    efficiency = m.wallMs > 0 && m.chunks > 0 ? best / m.wallMs : null;
  }
  const stats: PipelineStats = {
    mode: m.mode,
    depth: m.depth,
    deviceSlots: m.deviceSlots,
    chunks: m.chunks,
    bytesOut: m.bytesOut,
    bytesIn: m.bytesIn,
    wallMs: m.wallMs,
    stages,
    bottleneck,
    efficiency,
    copyThroughput: {
      busy: m.traced && m.busy.copy > 0 ? m.bytesOut / (m.busy.copy / 1000) : null,
      wall: m.wallMs > 0 ? m.bytesOut / (m.wallMs / 1000) : 0,
    },
  };
  if (m.timeline) stats.timeline = m.timeline.sort((a, b) => a.index - b.index);
  if (m.depthReason) stats.depthReason = m.depthReason;
  return stats;
}
