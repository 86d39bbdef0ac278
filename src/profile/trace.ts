// Chrome / Perfetto trace JSON (the "Trace Event Format") of one or more runs' timelines: one
// process per run, one track (thread) per stream (upload, compute, copy) and one for the host
// stage, 'X' spans for each chunk's stages, flow arrows linking a chunk's stages, the compute
// engine's idle gaps on their own track, and NVML samples as a counter. Opens in ui.perfetto.dev
// and chrome://tracing.
import { writeFile } from 'node:fs/promises';
import type { ChunkTiming } from '../pipeline/types.js';
import { computeGaps, timelineBounds } from './metrics.js';

export interface TraceEvent {
  name: string;
  ph: 'X' | 'M' | 's' | 'f' | 'C' | 'i';
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  id?: number;
  bp?: 'e';
  s?: 'g' | 'p' | 't';
  args?: Record<string, unknown>;
}

export interface TraceDocument {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms' | 'ns';
  metadata: Record<string, unknown>;
}

export interface TraceRun {
  /** Process name shown in the viewer, e.g. "overlap depth 2, ratio 1, 64 MiB". */
  label: string;
  timeline: readonly ChunkTiming[];
  /** NVML utilization.gpu samples taken during this run (host clock ms, percent). */
  utilization?: readonly { t: number; gpu: number }[];
  /** Keep only the first maxChunks chunks (traces of thousands of chunks get heavy). */
  maxChunks?: number;
}

/** Track ids, in the order the viewer sorts them. */
export const TRACKS = { upload: 1, compute: 2, copy: 3, sink: 4, gaps: 5 } as const;
const TRACK_NAMES: Record<keyof typeof TRACKS, string> = {
  upload: 'upload stream (H2D)',
  compute: 'compute stream',
  copy: 'copy stream (D2H)',
  sink: 'host stage',
  gaps: 'compute idle gaps',
};
const FLOW_ORDER = ['upload', 'compute', 'copy', 'sink'] as const;

function us(ms: number, t0: number): number {
  // Microseconds with ns resolution; rounding keeps the JSON short.
  return Math.round((ms - t0) * 1e6) / 1e3;
}

/** Builds the trace document for several runs (one process each), on a common time origin. */
export function buildTrace(runs: readonly TraceRun[], metadata: Record<string, unknown> = {}): TraceDocument {
  const events: TraceEvent[] = [];
  let flowId = 1;
  runs.forEach((run, r) => {
    const pid = r + 1;
    const timeline = run.maxChunks !== undefined ? run.timeline.slice(0, run.maxChunks) : run.timeline;
    const bounds = timelineBounds(timeline);
    // Each run starts at 0 so runs recorded one after another line up for comparison.
    const t0 = bounds?.start ?? 0;
    events.push({ name: 'process_name', ph: 'M', pid, tid: 0, args: { name: run.label } });
    events.push({ name: 'process_sort_index', ph: 'M', pid, tid: 0, args: { sort_index: pid } });
    const hasUpload = timeline.some((c) => c.upload);
    for (const [track, tid] of Object.entries(TRACKS) as [keyof typeof TRACKS, number][]) {
      if (track === 'upload' && !hasUpload) continue;
      events.push({ name: 'thread_name', ph: 'M', pid, tid, args: { name: TRACK_NAMES[track] } });
      events.push({ name: 'thread_sort_index', ph: 'M', pid, tid, args: { sort_index: tid } });
    }
    for (const c of timeline) {
      const present = FLOW_ORDER.filter((s) => c[s]);
      for (const stage of present) {
        const [a, b] = c[stage]!;
        const args: Record<string, unknown> = { chunk: c.index, slot: c.slot };
        if (stage === 'compute') args.enqueuedAtUs = us(c.enqueuedCompute, t0);
        if (stage === 'copy') args.enqueuedAtUs = us(c.enqueuedCopy, t0);
        events.push({
          name: `${stage} #${c.index}`,
          cat: stage,
          ph: 'X',
          pid,
          tid: TRACKS[stage],
          ts: us(a, t0),
          dur: us(b, a),
          args,
        });
      }
      // One flow per edge between consecutive stages of the chunk. 's' binds to the slice that
      // encloses it; 'f' with bp 'e' binds to the enclosing slice too (not the next one), so both
      // sit at the middle of their slices.
      for (let k = 1; k < present.length; k++) {
        const from = c[present[k - 1]!]!;
        const to = c[present[k]!]!;
        const id = flowId++;
        const name = `chunk #${c.index}`;
        events.push({
          name,
          cat: 'chunk',
          ph: 's',
          id,
          pid,
          tid: TRACKS[present[k - 1]!],
          ts: us((from[0] + from[1]) / 2, t0),
        });
        events.push({
          name,
          cat: 'chunk',
          ph: 'f',
          bp: 'e',
          id,
          pid,
          tid: TRACKS[present[k]!],
          ts: us((to[0] + to[1]) / 2, t0),
        });
      }
    }
    for (const g of computeGaps(timeline)) {
      events.push({
        name: `idle: ${g.cause}`,
        cat: 'gap',
        ph: 'X',
        pid,
        tid: TRACKS.gaps,
        ts: us(g.start, t0),
        dur: us(g.end, g.start),
        args: {
          afterChunk: g.afterChunk,
          beforeChunk: g.beforeChunk,
          copyBusyMs: g.during.copy,
          sinkBusyMs: g.during.sink,
          uploadBusyMs: g.during.upload,
        },
      });
    }
    for (const s of run.utilization ?? []) {
      if (bounds && (s.t < bounds.start || s.t > bounds.end)) continue;
      events.push({ name: 'utilization.gpu (NVML)', ph: 'C', pid, tid: 0, ts: us(s.t, t0), args: { percent: s.gpu } });
    }
  });
  return { traceEvents: events, displayTimeUnit: 'ms', metadata: { generator: 'tandem', ...metadata } };
}

/** Writes one run's timeline as a trace file. */
export async function writeTrace(
  path: string,
  timeline: readonly ChunkTiming[],
  meta: { label?: string; [k: string]: unknown } = {},
): Promise<void> {
  const { label = 'tandem run', ...rest } = meta;
  await writeTraceRuns(path, [{ label, timeline }], rest);
}

export async function writeTraceRuns(
  path: string,
  runs: readonly TraceRun[],
  metadata: Record<string, unknown> = {},
): Promise<void> {
  await writeFile(path, JSON.stringify(buildTrace(runs, metadata)));
}
