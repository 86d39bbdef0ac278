// The self-contained HTML report: one file, inline CSS and script, no network, no external
// fonts. The results JSON is embedded in the page and everything shown is rendered from it.
import { writeFile } from 'node:fs/promises';
import { REPORT_CLIENT_JS } from './report-client.js';
import type { Results } from './results.js';

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #1d1d1d; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 16px 0 4px; }
#env { color: #555; margin: 0; }
.warn { color: #b00020; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: left; white-space: nowrap; }
th { background: #f6f6f6; font-weight: 600; }
td.num { text-align: right; }
.scroll { overflow-x: auto; }
#timelines { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: 4px; }
canvas.timeline { width: 100%; display: block; border: 1px solid #ddd; cursor: grab; }
#charts { display: flex; flex-wrap: wrap; gap: 16px; }
svg.chart { border: 1px solid #ddd; background: #fff; font-size: 11px; }
svg.chart .grid { stroke: #eee; }
svg.chart .ctitle { font-weight: 600; font-size: 12px; }
#tip { position: absolute; background: #222; color: #fff; padding: 3px 6px; border-radius: 3px; font-size: 12px; pointer-events: none; }
li.skipped, li.failed { color: #8a5a00; }
.hint { color: #666; font-size: 12px; }
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

export function renderReport(results: Results): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(results.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1 id="title">${escapeHtml(results.title)}</h1><p id="env"></p></header>
<h2>Summary</h2>
<p class="hint">Efficiency = max(stage alone) / wall of the untraced run; busy fractions, strict kernel utilisation and gaps come from the traced run (per-chunk timing events on). NVML util is utilization.gpu sampled every 20 ms during the untraced run.</p>
<div class="scroll" id="summary"></div>
<h2>Serial vs overlap</h2>
<div id="versus" class="scroll"></div>
<h2>Timeline: serial vs overlap</h2>
<p class="hint">Wheel to zoom, drag to pan, double-click to reset. Red marks under the compute lane are the compute engine's idle gaps.</p>
<div id="timelines"></div>
<h2>Efficiency charts</h2>
<div id="charts"></div>
<h2>Peers</h2>
<div id="peers" class="scroll"></div>
<h2>Compute idle gaps</h2>
<div id="gaps" class="scroll"></div>
<h2>Notes</h2>
<ul id="notes"></ul>
<script type="application/json" id="tandem-data">${embedJson(results)}</script>
<script>${REPORT_CLIENT_JS}</script>
</body>
</html>
`;
}

export async function writeReport(path: string, results: Results): Promise<void> {
  await writeFile(path, renderReport(results));
}
