// The self-contained HTML report: one file, inline CSS and script, no network, no external
// fonts. The results JSON is embedded in the page and everything shown is rendered from it; the
// timelines travel beside it in a compact column form (see compactTimeline) so that every cell's
// timeline fits in the page without making it many megabytes. `tandem bench --jobs` has a page of
// its own (kind 'jobs'), rendered from its results.json the same way.
import { writeFile } from 'node:fs/promises';
import type { ChunkTiming } from '../pipeline/types.js';
import type { JobsDocument } from './jobs.js';
import { REPORT_CLIENT_JS } from './report-client.js';
import type { Results, TimelineRecord } from './results.js';

/** Milliseconds per step of a compact timeline: 0.1 µs, finer than CUDA events resolve (about 0.5 µs). */
export const TIMELINE_UNIT_MS = 1e-4;

/**
 * A timeline as columns of integers in TIMELINE_UNIT_MS steps: each start column holds the
 * difference from the previous chunk's start (row order kept), each end column the span's length,
 * so runs of near-identical chunks become runs of short repeated numbers. Times are relative to t0
 * (ms, the run's own clock). A stage column is present only where every chunk has that span.
 */
export interface CompactTimeline {
  cellId: string;
  label: string;
  mode: TimelineRecord['mode'];
  depth: number;
  truncatedFrom?: number;
  chunks: number;
  t0: number;
  unit: number;
  /** index, slot, deviceSlot (when recorded): differences from the previous row. */
  index: number[];
  slot: number[];
  deviceSlot?: number[];
  /** Per stage [start differences, lengths]. */
  upload?: [number[], number[]];
  compute: [number[], number[]];
  copy: [number[], number[]];
  sink: [number[], number[]];
  /** Host enqueue instants of compute and copy: differences from the previous row. */
  enqueuedCompute: number[];
  enqueuedCopy: number[];
  utilization: { t: number; gpu: number }[];
}

function deltas(values: readonly number[]): number[] {
  const out: number[] = [];
  let prev = 0;
  for (const v of values) {
    out.push(v - prev);
    prev = v;
  }
  return out;
}

export function compactTimeline(rec: TimelineRecord): CompactTimeline {
  const tl = rec.timeline;
  let t0 = Infinity;
  for (const c of tl) {
    t0 = Math.min(t0, c.compute[0], c.copy[0], c.sink[0], c.enqueuedCompute, c.enqueuedCopy);
    if (c.upload) t0 = Math.min(t0, c.upload[0]);
  }
  if (!Number.isFinite(t0)) t0 = 0;
  const q = (t: number) => Math.round((t - t0) / TIMELINE_UNIT_MS);
  const span = (get: (c: ChunkTiming) => [number, number]): [number[], number[]] => {
    const starts = tl.map((c) => q(get(c)[0]));
    return [deltas(starts), tl.map((c, i) => q(get(c)[1]) - starts[i]!)];
  };
  const out: CompactTimeline = {
    cellId: rec.cellId,
    label: rec.label,
    mode: rec.mode,
    depth: rec.depth,
    ...(rec.truncatedFrom !== undefined ? { truncatedFrom: rec.truncatedFrom } : {}),
    chunks: tl.length,
    t0,
    unit: TIMELINE_UNIT_MS,
    index: deltas(tl.map((c) => c.index)),
    slot: deltas(tl.map((c) => c.slot)),
    compute: span((c) => c.compute),
    copy: span((c) => c.copy),
    sink: span((c) => c.sink),
    enqueuedCompute: deltas(tl.map((c) => q(c.enqueuedCompute))),
    enqueuedCopy: deltas(tl.map((c) => q(c.enqueuedCopy))),
    utilization: rec.utilization,
  };
  if (tl.length > 0 && tl.every((c) => c.deviceSlot !== undefined))
    out.deviceSlot = deltas(tl.map((c) => c.deviceSlot!));
  if (tl.length > 0 && tl.every((c) => c.upload)) out.upload = span((c) => c.upload!);
  return out;
}

/** The inverse of compactTimeline, to TIMELINE_UNIT_MS / 2 (the page decodes the same way). */
export function expandTimeline(ct: CompactTimeline): ChunkTiming[] {
  const sum = (d: readonly number[]) => {
    let acc = 0;
    return d.map((v) => (acc += v));
  };
  const t = (n: number) => ct.t0 + n * ct.unit;
  const spans = (pair: [number[], number[]]): [number, number][] => {
    const starts = sum(pair[0]);
    return starts.map((s, i) => [t(s), t(s + pair[1][i]!)]);
  };
  const index = sum(ct.index);
  const slot = sum(ct.slot);
  const deviceSlot = ct.deviceSlot ? sum(ct.deviceSlot) : null;
  const upload = ct.upload ? spans(ct.upload) : null;
  const compute = spans(ct.compute);
  const copy = spans(ct.copy);
  const sink = spans(ct.sink);
  const enqC = sum(ct.enqueuedCompute);
  const enqCp = sum(ct.enqueuedCopy);
  return index.map((idx, i) => ({
    index: idx,
    slot: slot[i]!,
    ...(deviceSlot ? { deviceSlot: deviceSlot[i]! } : {}),
    ...(upload ? { upload: upload[i]! } : {}),
    compute: compute[i]!,
    copy: copy[i]!,
    sink: sink[i]!,
    enqueuedCompute: t(enqC[i]!),
    enqueuedCopy: t(enqCp[i]!),
  }));
}

const CSS = `
:root { color-scheme: light; --muted: #5b6570; --line: #e3e6ea; --accent: #1f6fb2; }
* { box-sizing: border-box; }
body {
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  margin: 0 auto; padding: 20px 28px 40px; max-width: 1480px; color: #1d1d1d; background: #fff;
}
h1 { font-size: 21px; margin: 0 0 2px; }
h2 { font-size: 16px; margin: 30px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
#env { color: var(--muted); margin: 0; font-size: 13px; }
.fake { display: inline-block; margin-top: 6px; padding: 2px 8px; border-radius: 3px; background: #fdecea; color: #b00020; font-weight: 600; font-size: 13px; }
#verdict { font-size: 18px; font-weight: 600; margin: 18px 0 10px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 10px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; background: #fafbfc; min-width: 0; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.card .v { font-size: 22px; font-weight: 650; font-variant-numeric: tabular-nums; margin: 2px 0; overflow-wrap: anywhere; }
.card .d { color: var(--muted); font-size: 12.5px; overflow-wrap: anywhere; }
.card.none .v { font-size: 16px; color: var(--muted); }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eef0f2; text-align: left; white-space: nowrap; }
th { background: #f4f6f8; font-weight: 600; font-size: 13px; }
td.num, th.num { text-align: right; }
td.slow { color: #b00020; }
#summary-table th, #jobs-table th { white-space: normal; vertical-align: bottom; }
tr.group td { background: #f9fafb; font-weight: 600; padding-top: 8px; border-bottom: 1px solid var(--line); white-space: normal; }
tr.best td { font-weight: 650; }
tr.picked td { background: #eaf2fb; }
.scroll { overflow-x: auto; max-width: 100%; }
button.tl {
  font: inherit; font-size: 12px; border: 1px solid #c9d1d9; background: #fff; border-radius: 3px; padding: 0 6px;
  cursor: pointer; color: var(--accent);
}
details { margin: 8px 0; }
details > summary { cursor: pointer; color: var(--accent); }
.hint { color: var(--muted); font-size: 12.5px; margin: 4px 0 8px; }
#picker-row { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin: 6px 0 10px; }
#picker-row select { font: inherit; max-width: 100%; padding: 2px 4px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12.5px; color: #333; margin: 4px 0 8px; }
.legend i { display: inline-block; width: 14px; height: 10px; margin-right: 5px; vertical-align: -1px; border-radius: 2px; }
figure { margin: 0 0 12px; min-width: 0; }
figcaption { font-weight: 600; margin-bottom: 4px; font-size: 13px; }
canvas.timeline { width: 100%; display: block; border: 1px solid var(--line); cursor: grab; }
#charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 340px), 1fr)); gap: 16px; }
#charts figure { border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
svg.chart { display: block; width: 100%; font-size: 11px; }
svg.chart .grid { stroke: #eceef0; }
svg.chart .axis { stroke: #888; }
svg.chart .axis-label { font-size: 12px; fill: #333; }
#tip { position: absolute; background: #222; color: #fff; padding: 3px 6px; border-radius: 3px; font-size: 12px; pointer-events: none; max-width: 320px; }
li.skipped, li.failed { color: #8a5a00; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; font-size: 13px; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; overflow-wrap: anywhere; }
#notes li { margin-bottom: 4px; }
@media (max-width: 900px) { body { padding: 12px 12px 30px; } th, td { padding: 3px 5px; } .card .v { font-size: 19px; } }
`;

/** JSON that cannot close the script element it sits in. */
function embedJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** The page's kind: a sweep (bench), or one run (render, or a library run). */
function reportKind(results: Results): 'bench' | 'render' | 'run' {
  return results.kind ?? 'bench';
}

const TIMELINE_SECTION = `<section id="timeline-section"><h2 id="timeline-heading">Timeline</h2>
<div id="picker-row"></div>
<div class="legend" id="timeline-legend"></div>
<p class="hint">Wheel to zoom, drag to pan, double-click to reset; hover a span for its chunk.
Ticks in the host lane are the instants the host enqueued each chunk's kernel (upper) and copy (lower);
red marks under the compute lane are the compute engine's idle gaps.</p>
<div id="timelines"></div></section>`;

const GAPS_SECTION = `<h2>Compute idle gaps, by cause</h2>
<div id="gaps"></div>`;

const NOTES_SECTION = `<h2>Notes</h2>
<ul id="notes"></ul>`;

function benchBody(): string {
  return `<section id="headline"></section>
<h2>Results by configuration</h2>
<p class="hint">Efficiency = max(stage alone) / wall of the untraced run (1.0: the slowest stage never waited).
vs serial = serial wall / this wall at the same chunk size and ratio. Kernel util (strict) comes from the traced run.
A peer's column is its wall / tandem's wall (above 1: tandem was faster).
The best overlap of each configuration is in bold; "view" shows a cell's traced run below.</p>
<div class="scroll" id="summary"></div>
<details id="all-figures"><summary>Every figure per cell (busy fractions, NVML, copy peak, tracing cost)</summary>
<div class="scroll" id="details-table"></div></details>
${TIMELINE_SECTION}
<h2>Efficiency charts</h2>
<div id="charts"></div>
<h2>Peers</h2>
<div id="peers"></div>
${GAPS_SECTION}
${NOTES_SECTION}`;
}

function runBody(): string {
  return `<section id="headline"></section>
<h2>Stage times</h2>
<p class="hint">Busy time of each stage over the run (union of its spans in the traced run), its share of the wall time,
and its mean per chunk. The bottleneck is the busiest stage; efficiency = its busy time / wall.</p>
<div class="scroll" id="stages"></div>
${TIMELINE_SECTION}
${GAPS_SECTION}
<h2>Run</h2>
<dl class="kv" id="run-config"></dl>
${NOTES_SECTION}`;
}

function jobsBody(): string {
  return `<section id="headline"></section>
<h2>Jobs by shape</h2>
<p class="hint">Per cell (chunks × chunk size): the steady jobs' median and p99, the first job and the job after
idle time (ms), jobs per second, each peer's four figures where it ran, and the ideal (the chunks copied alone).
/peer = tandem's steady median / the faster peer's; /ideal = the steady median / ideal; first/ideal = the first job
after reserve() / ideal; idle/peer = tandem's job after idle time / the faster peer's.</p>
<div class="scroll" id="jobs"></div>
<details id="pool-figures"><summary>The copy alone and the pool after each cell</summary>
<div class="scroll" id="pool"></div></details>
<h2>Each job's wall, in order</h2>
<div id="charts"></div>
${NOTES_SECTION}`;
}

/** The page: its kind's sections, the data it renders from, and the client that renders them. */
function page(kind: string, title: string, body: string, data: unknown, timelines: readonly CompactTimeline[]): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body data-kind="${kind}">
<header><h1 id="title">${escapeHtml(title)}</h1><p id="env"></p></header>
${body}
<script type="application/json" id="tandem-data">${embedJson(data)}</script>
<script type="application/json" id="tandem-timelines">${embedJson(timelines)}</script>
<script>${REPORT_CLIENT_JS}</script>
</body>
</html>
`;
}

export function renderReport(results: Results): string {
  const kind = reportKind(results);
  const { timelines, ...rest } = results;
  return page(
    kind,
    results.title,
    kind === 'bench' ? benchBody() : runBody(),
    { ...rest, timelines: [] },
    timelines.map(compactTimeline),
  );
}

export async function writeReport(path: string, results: Results): Promise<void> {
  await writeFile(path, renderReport(results));
}

/** The `tandem bench --jobs` page: results.json as written, embedded whole. */
export function renderJobsReport(doc: JobsDocument): string {
  return page('jobs', doc.title, jobsBody(), doc, []);
}

export async function writeJobsReport(path: string, doc: JobsDocument): Promise<void> {
  await writeFile(path, renderJobsReport(doc));
}
