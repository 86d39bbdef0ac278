// The HTML reports opened in headless Chromium (Debian's chromium driven by playwright-core):
// - a `tandem bench --fake` report loads without console errors or network requests, every
//   number on the page equals the run's results.json, the cell picker switches the timeline
//   (every traced cell has one, decoded from the compact form to the stored times), the wheel
//   zooms it, the charts carry axis titles and one point per cell and peer, and nothing
//   overflows the page at 800 px;
// - the headline of a hand-written results object states the figures computed from its cells
//   (speed-up over serial and over a peer, efficiency, bottleneck), and says when peers did not run;
// - a `tandem render --fake --report` page shows frames, fps, stage times and the timeline,
//   and none of the bench-only sections.
// - the compact timeline form decodes to the stored times (to half its unit), uploads included;
// - a `tandem bench --jobs --fake` page shows its results.json: every number, the headline's
//   ranges, a chart per cell with a point per job and the ideal as a line; with peers (their
//   figures written into the same results), their columns, the vs-peer card and a line per peer.
// TANDEM_REPORT_SHOTS=dir writes screenshots of the bench, render and jobs pages at 1400 and 800 px into dir.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { parseBenchOptions, runBench } from '../src/cli/commands/bench.js';
import {
  compactTimeline,
  expandTimeline,
  TIMELINE_UNIT_MS,
  writeJobsReport,
  writeReport,
  type CompactTimeline,
} from '../src/profile/report.js';
import { summarizeJobs, type JobsDocument } from '../src/profile/jobs.js';
import type { Cell, Results, TimelineRecord } from '../src/profile/results.js';

const CHROMIUM = process.env.TANDEM_CHROMIUM ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? false
  : `chromium not installed at ${CHROMIUM} (apt-get install chromium, or set TANDEM_CHROMIUM)`;
if (skip) process.stderr.write(`# skipping the report browser tests: ${skip}\n`);
const SHOTS = process.env.TANDEM_REPORT_SHOTS;

function repoRoot(): string {
  let d = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(d, 'package.json'))) d = path.dirname(d);
  return d;
}
const BIN = path.join(repoRoot(), 'bin', 'tandem.js');

/** The page's formatting, restated independently: a mismatch in either is a failure. */
function format(v: number, fmt: string): string {
  switch (fmt) {
    case 'ms':
    case 'us':
    case 'ratio':
      return v.toFixed(2);
    case 'eff':
      return v.toFixed(4);
    case 'pct':
      return `${(v * 100).toFixed(1)}%`;
    case 'nvml':
      return `${v.toFixed(1)}%`;
    case 'int':
      return String(Math.round(v));
    case 'gbps':
      return (v / 1e9).toFixed(2);
    case 'gbs':
      return v.toFixed(2);
    case 'bytes': {
      const [G, M, K] = [2 ** 30, 2 ** 20, 2 ** 10];
      if (v >= G) return `${+(v / G).toFixed(1)} GiB`;
      if (v >= M) return `${+(v / M).toFixed(1)} MiB`;
      return v >= K ? `${+(v / K).toFixed(1)} KiB` : `${Math.round(v)} B`;
    }
    case 'speedup':
      return `${v.toFixed(3)}×`;
    case 'x2':
      return `${v.toFixed(2)}×`;
    default:
      throw new Error(`unknown format ${fmt}`);
  }
}

/** The part of HTMLCanvasElement the check uses (the DOM lib is not in this project's types). */
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
}

function get(obj: unknown, key: string): unknown {
  let o = obj as Record<string, unknown> | null | undefined;
  for (const part of key.split('.')) {
    if (o === null || o === undefined) return null;
    o = o[part] as Record<string, unknown> | null | undefined;
  }
  return o ?? null;
}

let dir = '';
let context: BrowserContext | null = null;
before(async () => {
  if (skip) return;
  dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-report-'));
  const { chromium } = await import('playwright-core');
  context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1400, height: 1000 },
  });
});
after(async () => {
  await context?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Opens a report, failing on console errors and on any request that leaves the file. */
async function open(file: string, width = 1400): Promise<{ page: Page; problems: string[]; foreign: string[] }> {
  const page = await context!.newPage();
  await page.setViewportSize({ width, height: 1000 });
  const problems: string[] = [];
  const foreign: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith('file://') && !r.url().startsWith('data:')) foreign.push(r.url());
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  await page.waitForSelector('body[data-rendered="true"]', { timeout: 10_000 });
  assert.deepEqual(problems, [], 'no console errors');
  assert.deepEqual(foreign, [], 'no network');
  return { page, problems, foreign };
}

/** Neither the document nor any table outside a scroll box is wider than the viewport. */
async function assertNoOverflow(page: Page, what: string): Promise<void> {
  // A string, evaluated in the page: this project's types have no DOM.
  const o = (await page.evaluate(`(() => {
    const d = document.documentElement;
    const wide = Array.from(document.querySelectorAll('table, canvas, svg, .cards, figure'))
      .filter((e) => !e.closest('.scroll, details:not([open])'))
      .filter((e) => e.getBoundingClientRect().right > d.clientWidth + 0.5)
      .map((e) => e.tagName + (e.id ? '#' + e.id : ''));
    const summary = document.querySelector('#summary');
    const clipped = Array.from(document.querySelectorAll('svg.chart text')).filter((t) => {
      const r = t.closest('svg').getBoundingClientRect(), b = t.getBoundingClientRect();
      return b.left < r.left - 0.5 || b.right > r.right + 0.5;
    }).map((t) => t.textContent);
    return { scroll: d.scrollWidth, client: d.clientWidth, wide, clipped, summary: summary ? summary.scrollWidth - summary.clientWidth : 0 };
  })()`)) as { scroll: number; client: number; wide: string[]; clipped: string[]; summary: number };
  assert.ok(o.scroll <= o.client, `${what}: the page scrolls sideways (${o.scroll} > ${o.client})`);
  assert.deepEqual(o.wide, [], `${what}: wider than the page`);
  assert.deepEqual(o.clipped, [], `${what}: chart text cut off at the chart's edge`);
  assert.ok(o.summary <= 0, `${what}: the summary table needs a scroll bar (${o.summary} px more)`);
}

/**
 * Every number tagged on the page (data-cell, data-key, data-format, data-value) against the
 * stored cell it names: the value, and its text in the page's format; '–' where the JSON has
 * none. Returns how many numbers were checked.
 */
async function checkNumbers(page: Page, cellOf: (id: string) => unknown): Promise<number> {
  const shown = await page.$$eval('[data-key]', (els) =>
    els.map((e) => ({
      cell: e.getAttribute('data-cell')!,
      key: e.getAttribute('data-key')!,
      fmt: e.getAttribute('data-format')!,
      value: e.getAttribute('data-value')!,
      text: e.textContent!,
    })),
  );
  let checked = 0;
  for (const s of shown) {
    const cell = cellOf(s.cell);
    assert.ok(cell, `page shows unknown cell ${s.cell}`);
    const v = get(cell, s.key);
    if (typeof v === 'number' && Number.isFinite(v)) {
      assert.equal(Number(s.value), v, `${s.cell} ${s.key}`);
      assert.equal(s.text, format(v, s.fmt), `${s.cell} ${s.key} text`);
      checked++;
    } else {
      assert.equal(s.value, '', `${s.cell} ${s.key} is missing in the JSON but shown`);
      assert.equal(s.text, '–');
    }
  }
  return checked;
}

async function canvasPixels(page: Page): Promise<{ colours: number; hash: number }[]> {
  return page.$$eval('canvas.timeline', (els) =>
    (els as unknown as CanvasLike[]).map((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const colours = new Set<number>();
      let hash = 0;
      for (let i = 0; i < d.length; i += 4) {
        const rgb = (d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!;
        colours.add(rgb);
        hash = (hash * 31 + rgb) | 0;
      }
      return { colours: colours.size, hash };
    }),
  );
}

async function shoot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  for (const width of [1400, 800]) {
    await page.setViewportSize({ width, height: 1000 });
    await page.waitForTimeout(150);
    await writeFile(path.join(SHOTS, `${name}-${width}.png`), await page.screenshot({ fullPage: true }));
  }
}

test('the bench report renders in headless Chromium from its own JSON', { skip, timeout: 180_000 }, async () => {
  const out = path.join(dir, 'bench');
  const results = await runBench(
    parseBenchOptions({ fake: true, out, sizes: '64K,16K', chunks: 10, ratios: '0.5,1,2', depths: '2,3' }),
    ['bench', '--fake'],
  );
  // Peer figures are rendered from the same JSON; give one cell a peer to cover those paths.
  results.peers.push({ name: 'cupy-streams', description: 'test peer', status: 'ok' });
  const c0 = results.cells.find((c) => c.mode === 'overlap')!;
  c0.peers['cupy-streams'] = {
    wallMs: c0.stats.wallMs * 1.25,
    efficiency: 0.8,
    computeAloneMs: 1,
    copyAloneMs: 2,
    bytes: 10,
    tandemSpeedup: 1.25,
  };
  const reportPath = path.join(out, 'report.html');
  await writeReport(reportPath, results);
  const stored = JSON.parse(JSON.stringify(results)) as Results;
  const { page, problems } = await open(reportPath);

  // Every number on the page is the stored one, formatted.
  const checked = await checkNumbers(page, (id) => stored.cells.find((c) => c.id === id));
  assert.ok(checked >= stored.cells.length * 12, `numbers checked: ${checked}`);
  assert.equal(await page.locator('#summary-table tbody tr[data-row]').count(), stored.cells.length);
  assert.equal(await page.locator('#figures-table tbody tr').count(), stored.cells.length);
  assert.equal(await page.locator('#peer-table tbody tr').count(), 1);
  assert.equal(await page.textContent('h1'), stored.title);
  // vs serial: serial wall / this wall in the same configuration.
  for (const c of stored.cells.filter((x) => x.mode === 'overlap')) {
    const serial = stored.cells.find(
      (s) => s.mode === 'serial' && s.chunkBytes === c.chunkBytes && s.ratio === c.ratio,
    )!;
    const v = await page.getAttribute(`#summary-table tr[data-row="${c.id}"] td[data-speedup]`, 'data-speedup');
    assert.equal(Number(v), serial.stats.wallMs / c.stats.wallMs, `${c.id} vs serial`);
  }
  assert.match((await page.textContent('#verdict'))!, /serial/);

  // Charts: efficiency vs ratio (one per size) and vs size (one per ratio), a point per cell,
  // each with both axes titled.
  assert.equal(await page.locator('svg.chart').count(), 2 + 3);
  const points = await page.locator('svg.chart circle').count();
  const withEff = stored.cells.filter((c) => typeof c.efficiency === 'number').length;
  assert.equal(points, 2 * withEff + 2, 'each cell in both charts, plus the peer point in both');
  assert.equal(await page.locator('svg.chart text.x-label').count(), 5);
  assert.deepEqual(
    [...new Set(await page.locator('svg.chart text.y-label').allTextContents())],
    ['efficiency (ideal / wall)'],
  );
  assert.ok((await page.locator('svg.chart text.x-label').allTextContents()).every((t) => t.length > 5));

  // Every traced cell has a timeline, embedded compactly and decoded to the stored times.
  assert.equal(stored.timelines.length, stored.cells.length, 'a timeline per cell');
  const html = await readFile(reportPath, 'utf8');
  const compact = JSON.parse(
    /<script type="application\/json" id="tandem-timelines">([\s\S]*?)<\/script>/.exec(html)![1]!,
  ) as CompactTimeline[];
  const decoded = (await page.evaluate('window.tandemTimelines')) as {
    timeline: Results['timelines'][0]['timeline'];
  }[];
  assert.equal(compact.length, stored.timelines.length);
  for (let i = 0; i < compact.length; i++) {
    const want = stored.timelines[i]!.timeline;
    for (const got of [expandTimeline(compact[i]!), decoded[i]!.timeline]) {
      assert.equal(got.length, want.length);
      got.forEach((g, k) => {
        const w = want[k]!;
        assert.equal(g.index, w.index);
        assert.equal(g.slot, w.slot);
        for (const s of ['compute', 'copy', 'sink'] as const)
          for (const j of [0, 1]) assert.ok(Math.abs(g[s][j] - w[s][j]) <= 0.5e-4 + 1e-9, `${s} ${k}`);
        assert.ok(Math.abs(g.enqueuedCompute - w.enqueuedCompute) <= 0.5e-4 + 1e-9);
        assert.ok(Math.abs(g.enqueuedCopy - w.enqueuedCopy) <= 0.5e-4 + 1e-9);
      });
    }
  }
  // The rest of the page's JSON is the results as stored.
  const embedded = JSON.parse(
    /<script type="application\/json" id="tandem-data">([\s\S]*?)<\/script>/.exec(html)![1]!,
  ) as Results;
  assert.deepEqual(embedded, { ...stored, timelines: [] });

  // The picker lists every timeline and switches the one shown; an overlap cell comes with its
  // configuration's serial run on the same scale.
  const options = await page
    .locator('#timeline-picker option')
    .evaluateAll((els) => els.map((e) => e.getAttribute('value')));
  assert.deepEqual([...options].sort(), stored.timelines.map((t) => t.cellId).sort());
  const first = (await page.getAttribute('#timelines', 'data-showing'))!;
  assert.equal(stored.cells.find((c) => c.id === first)!.mode, 'overlap');
  assert.equal(await page.locator('canvas.timeline').count(), 2);
  const before1 = await canvasPixels(page);
  for (const p of before1) assert.ok(p.colours >= 8, `a timeline canvas is nearly blank (${p.colours} colours)`);
  const other = stored.cells.find((c) => c.mode === 'serial' && c.chunkBytes !== c0.chunkBytes)!;
  await page.selectOption('#timeline-picker', other.id);
  assert.equal(await page.getAttribute('#timelines', 'data-showing'), other.id);
  assert.equal(await page.getAttribute('canvas.timeline', 'data-cell'), other.id);
  assert.equal(await page.locator('canvas.timeline').count(), 1, 'a serial cell alone');
  assert.notEqual((await canvasPixels(page))[0]!.hash, before1[0]!.hash, 'the picked timeline is drawn');
  // The row buttons pick too.
  await page.click(`#summary-table button[data-show="${c0.id}"]`);
  assert.equal(await page.getAttribute('#timelines', 'data-showing'), c0.id);
  assert.equal(await page.inputValue('#timeline-picker'), c0.id);

  // Host enqueue marks: the host lane (the first, from y = 8 px) holds the kernels' green ticks
  // in its upper half and the copies' blue ones in its lower half.
  const marks = await page.$eval('canvas.timeline', (el) => {
    const c = el as unknown as CanvasLike;
    const count = (y: number, rgb: number[]) => {
      const d = c.getContext('2d').getImageData(0, y, c.width, 8).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] === rgb[0] && d[i + 1] === rgb[1] && d[i + 2] === rgb[2]) n++;
      return n;
    };
    return { kernel: count(10, [0x2f, 0x7d, 0x32]), copy: count(19, [0x1f, 0x6f, 0xb2]) };
  });
  assert.ok(marks.kernel > 0 && marks.copy > 0, `enqueue ticks drawn in the host lane: ${JSON.stringify(marks)}`);

  // The wheel zooms.
  const beforeZoom = await canvasPixels(page);
  await page.locator('canvas.timeline').first().scrollIntoViewIfNeeded();
  const box = (await page.locator('canvas.timeline').first().boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
  await page.mouse.wheel(0, -600);
  await page.waitForTimeout(100);
  assert.notEqual((await canvasPixels(page))[0]!.hash, beforeZoom[0]!.hash, 'the wheel zooms the timeline');
  await page.dblclick('canvas.timeline >> nth=0');

  // Gaps: one table by cause, each cell's largest gaps behind a <details>.
  assert.ok((await page.locator('#gap-causes tbody tr').count()) >= 2);
  assert.equal(await page.locator('#gaps details table:visible').count(), 0, 'gap detail is closed by default');

  // At 800 px nothing spills sideways and the charts shrink to their boxes.
  await page.setViewportSize({ width: 800, height: 1000 });
  await page.waitForTimeout(150);
  await assertNoOverflow(page, 'bench at 800 px');
  const chartW = await page.$$eval('svg.chart', (els) => els.map((e) => e.getBoundingClientRect().width));
  assert.ok(
    chartW.every((w) => w <= 780),
    `charts fit: ${chartW.join(', ')}`,
  );
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.waitForTimeout(150);
  await assertNoOverflow(page, 'bench at 1400 px');
  const wideW = await page.$$eval('svg.chart', (els) => els.map((e) => e.getBoundingClientRect().width));
  assert.ok(wideW[0]! > chartW[0]! || wideW.length > 1, 'charts follow their box');

  await shoot(page, 'report-bench');
  assert.deepEqual(problems, [], 'no console errors after interaction');
  await page.close();
});

/** A cell with the fields the page reads; the rest as a run would leave them. */
function cell(
  id: string,
  mode: 'serial' | 'overlap',
  depth: number,
  chunkBytes: number,
  ratio: number,
  wallMs: number,
  efficiency: number,
  bottleneck: 'compute' | 'copy',
): Cell {
  return {
    id,
    workload: 'synthetic',
    mode,
    depth,
    ratio,
    measuredRatio: ratio,
    chunkBytes,
    chunks: 64,
    params: {},
    alone: { computeMs: 1, copyMs: 1 },
    stats: {
      mode,
      depth,
      deviceSlots: depth,
      chunks: 64,
      bytesOut: chunkBytes * 64,
      bytesIn: 0,
      wallMs,
      stages: { upload: { busyMs: null }, compute: { busyMs: null }, copy: { busyMs: null }, sink: { busyMs: 1 } },
      bottleneck,
      efficiency: null,
      copyThroughput: { busy: null, wall: (chunkBytes * 64) / (wallMs / 1000) },
    },
    efficiency,
    copyOfPeak: null,
    traced: null,
    traceCostPerChunkUs: null,
    nvml: null,
    peers: {},
  };
}

function knownResults(peers: Results['peers']): Results {
  const M = 1 << 20;
  const cells = [
    cell('a-s', 'serial', 1, M, 1, 20, 0.5, 'copy'),
    cell('a-2', 'overlap', 2, M, 1, 12, 0.8, 'copy'),
    cell('a-3', 'overlap', 3, M, 1, 10, 0.9, 'copy'),
    cell('b-s', 'serial', 1, M, 2, 30, 0.6, 'compute'),
    cell('b-2', 'overlap', 2, M, 2, 20, 0.95, 'compute'),
    cell('c-s', 'serial', 1, 4 * M, 1, 40, 0.4, 'copy'),
    cell('c-2', 'overlap', 2, 4 * M, 1, 16, 0.97, 'copy'),
  ];
  if (peers.some((p) => p.status === 'ok')) {
    const peer = (tandemSpeedup: number) => ({
      wallMs: 1,
      efficiency: null,
      computeAloneMs: null,
      copyAloneMs: null,
      bytes: 1,
      tandemSpeedup,
    });
    cells[2]!.peers['cupy-streams'] = peer(1.2);
    cells[4]!.peers['cupy-streams'] = peer(1.4);
    cells[6]!.peers['cupy-streams'] = peer(0.9);
  }
  return {
    schema: 'tandem-results/1',
    kind: 'bench',
    title: 'known results',
    date: '2026-01-01T00:00:00.000Z',
    command: ['tandem', 'bench'],
    environment: {
      tandemVersion: '0.0.0',
      node: 'v20',
      platform: 'linux',
      arch: 'x64',
      hostname: 'h',
      cpus: 1,
      backend: 'cuda',
      device: null,
      driverVersion: null,
      nvrtcVersion: null,
    },
    config: {},
    cells,
    peers,
    timelines: [],
    notes: [],
    files: {},
  };
}

async function cards(page: Page): Promise<Record<string, { value: string; text: string }>> {
  const list = await page.$$eval('#headline .card', (els) =>
    els.map((e) => ({
      metric: e.getAttribute('data-metric')!,
      value: e.getAttribute('data-value')!,
      text: e.querySelector('.v')!.textContent!,
    })),
  );
  return Object.fromEntries(list.map((c) => [c.metric, { value: c.value, text: c.text }]));
}

test('the headline states the figures computed from the cells', { skip, timeout: 60_000 }, async () => {
  // Best overlap per configuration: a-3 (10 ms vs serial 20), b-2 (20 vs 30), c-2 (16 vs 40).
  const file = path.join(dir, 'known.html');
  await writeReport(file, knownResults([{ name: 'cupy-streams', description: 'peer', status: 'ok' }]));
  const { page } = await open(file);
  const c = await cards(page);
  assert.equal(Number(c['speedup-serial']!.value), 2); // median of 2, 1.5, 2.5
  assert.equal(c['speedup-serial']!.text, '2.00×');
  assert.equal(Number(c['efficiency']!.value), 0.95); // median of 0.9, 0.95, 0.97
  assert.equal(c['efficiency']!.text, '0.9500');
  assert.equal(c['bottleneck']!.text, 'copy (D2H)');
  assert.equal(Number(c['bottleneck']!.value), 2); // copy in 2 of 3
  assert.equal(Number(c['peer:cupy-streams']!.value), 1.2); // median of 1.2, 1.4, 0.9
  assert.equal(
    await page.textContent('#verdict'),
    'Overlap runs 1.50×–2.50× faster than serial; efficiency 0.9000–0.9700; bottleneck: copy (D2H) (2 of 3); ' +
      'over the peers (peer wall / tandem wall, median): cupy-streams 1.20×.',
  );
  assert.equal(await page.locator('#summary-table tr.best').count(), 3);
  await assertNoOverflow(page, 'known results');
  await page.close();

  // Peers that did not run are said not to have run, with their reason.
  const file2 = path.join(dir, 'known-nopeers.html');
  await writeReport(
    file2,
    knownResults([
      { name: 'torch-sketch', description: 'peer', status: 'skipped', reason: 'the peers need a GPU (--fake given)' },
      { name: 'cupy-streams', description: 'peer', status: 'skipped', reason: 'the peers need a GPU (--fake given)' },
    ]),
  );
  const p2 = await open(file2);
  const c2 = await cards(p2.page);
  assert.equal(c2['peers']!.text, 'peers did not run');
  assert.equal(c2['peer:cupy-streams'], undefined);
  assert.match(
    (await p2.page.textContent('#headline [data-metric="peers"] .d'))!,
    /torch-sketch, cupy-streams skipped: the peers need a GPU/,
  );
  assert.match((await p2.page.textContent('#verdict'))!, /peers did not run\.$/);
  await p2.page.close();
});

test(
  'the render report is its own page: frames, fps, stages, timeline, no bench sections',
  { skip, timeout: 120_000 },
  async () => {
    const file = path.join(dir, 'render.html');
    const r = spawnSync(
      process.execPath,
      [
        BIN,
        'render',
        '--fake',
        '--size',
        '64x48',
        '--frames',
        '12',
        '--out',
        path.join(dir, 'r.raw'),
        '--report',
        file,
        '--no-progress',
      ],
      { encoding: 'utf8', timeout: 100_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const { page } = await open(file);
    assert.equal(await page.getAttribute('body', 'data-kind'), 'render');
    const embedded = JSON.parse(
      /<script type="application\/json" id="tandem-data">([\s\S]*?)<\/script>/.exec(await readFile(file, 'utf8'))![1]!,
    ) as Results;
    const run = embedded.cells[0]!;
    const c = await cards(page);
    assert.equal(c['frames']!.text, '12');
    assert.equal(Number(c['fps']!.value), 12 / (run.stats.wallMs / 1000));
    assert.ok(c['bottleneck']!.text.length > 0);
    // One figure, said once: efficiency is the bottleneck's share of the wall.
    assert.equal(Number(c['efficiency']!.value), Number(c['bottleneck']!.value));
    assert.match((await page.textContent('#verdict'))!, /^12 frames in [\d.]+ s: [\d.]+ fps/);
    assert.ok((await page.locator('#stage-table tr[data-stage]').count()) >= 3);
    assert.equal(await page.locator('canvas.timeline').count(), 1);
    for (const p of await canvasPixels(page)) assert.ok(p.colours >= 4, 'the timeline is drawn');
    // None of the bench sections, nor their words.
    for (const sel of ['#summary-table', '#charts', '#peers', '#timeline-picker', '#figures-table'])
      assert.equal(await page.locator(sel).count(), 0, `${sel} on the render page`);
    const text = await page.innerText('body');
    for (const w of ['Serial vs overlap', '--peers', 'Peers', 'Efficiency charts', 'vs serial'])
      assert.ok(!text.includes(w), `render page mentions ${w}`);
    await page.setViewportSize({ width: 800, height: 1000 });
    await page.waitForTimeout(150);
    await assertNoOverflow(page, 'render at 800 px');
    await shoot(page, 'report-render');
    await page.close();
  },
);

test('compact timelines decode to the stored times: uploads, device slots, any chunk order, none', () => {
  const tl: TimelineRecord['timeline'] = [3, 0, 2, 1].map((index, i) => ({
    index,
    slot: index % 2,
    deviceSlot: 0,
    upload: [100.12345 + i, 100.5 + i],
    compute: [100.6 + i, 101.23456 + i],
    copy: [101.3 + i, 101.9 + i],
    sink: [102 + i, 102.00001 + i],
    enqueuedCompute: 100.1 + i * 0.25,
    enqueuedCopy: 100.2 + i * 0.25,
  }));
  const rec: TimelineRecord = { cellId: 'x', label: 'x', mode: 'overlap', depth: 2, timeline: tl, utilization: [] };
  const ct = compactTimeline(rec);
  assert.ok(ct.upload && ct.deviceSlot, 'upload and device slot columns kept');
  const back = expandTimeline(ct);
  assert.equal(back.length, tl.length);
  back.forEach((g, k) => {
    const w = tl[k]!;
    assert.equal(g.index, w.index);
    assert.equal(g.slot, w.slot);
    assert.equal(g.deviceSlot, w.deviceSlot);
    for (const s of ['upload', 'compute', 'copy', 'sink'] as const)
      for (const j of [0, 1]) assert.ok(Math.abs(g[s]![j] - w[s]![j]) <= TIMELINE_UNIT_MS / 2 + 1e-9, `${s} ${k}`);
  });
  // A stage some chunks lack is left out rather than made up.
  const partial = compactTimeline({ ...rec, timeline: tl.map((c, i) => (i ? c : { ...c, upload: undefined })) });
  assert.equal(partial.upload, undefined);
  assert.deepEqual(expandTimeline(compactTimeline({ ...rec, timeline: [] })), []);
});

/** The page's median and range texts, restated. */
function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[n >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}
function rangeText(values: readonly number[], fmt: string): string {
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  return lo === hi ? format(lo, fmt) : `${format(lo, fmt)}–${format(hi, fmt)}`;
}

/** Each chart of a jobs page: its cell, the points by series ([x, y]), the level lines, the axis titles. */
interface JobsChart {
  key: string;
  points: Record<string, [number, number][]>;
  levels: [string, number][];
  xLabel: string;
  yLabel: string;
}
async function jobsCharts(page: Page): Promise<JobsChart[]> {
  return (await page.evaluate(`Array.from(document.querySelectorAll('#charts figure[data-chart]')).map((f) => {
    const points = {};
    f.querySelectorAll('svg.chart circle').forEach((c) => {
      const s = c.getAttribute('data-series');
      (points[s] = points[s] || []).push([Number(c.getAttribute('data-x')), Number(c.getAttribute('data-y'))]);
    });
    return {
      key: f.getAttribute('data-chart'),
      points,
      levels: Array.from(f.querySelectorAll('line.level')).map((l) => [l.getAttribute('data-series'), Number(l.getAttribute('data-y'))]),
      xLabel: f.querySelector('text.x-label').textContent,
      yLabel: f.querySelector('text.y-label').textContent,
    };
  })`)) as JobsChart[];
}

test(
  'the jobs report (tandem bench --jobs) shows its results.json: table, headline, every job per cell',
  { skip, timeout: 120_000 },
  async () => {
    const out = path.join(dir, 'jobs');
    const r = spawnSync(process.execPath, [BIN, 'bench', '--jobs', '4', '--fake', '--out', out], {
      encoding: 'utf8',
      timeout: 100_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const file = path.join(out, 'report.html');
    const doc = JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8')) as JobsDocument;
    const cells = doc.jobs.cells;
    const { page, problems } = await open(file);
    assert.equal(await page.getAttribute('body', 'data-kind'), 'jobs');
    assert.equal(await page.textContent('h1'), doc.title);
    const embedded = JSON.parse(
      /<script type="application\/json" id="tandem-data">([\s\S]*?)<\/script>/.exec(await readFile(file, 'utf8'))![1]!,
    ) as JobsDocument;
    assert.deepEqual(embedded, doc, 'the page holds results.json as written');

    // The table: a row per cell, every number the stored one; the peers that did not run say so.
    const byKey = (key: string) => cells.find((c) => c.key === key);
    const checked = await checkNumbers(page, byKey);
    assert.ok(checked >= cells.length * 13, `numbers checked: ${checked}`);
    assert.equal(await page.locator('#jobs-table tbody tr[data-row]').count(), cells.length);
    assert.deepEqual(
      await page.locator('#jobs-table thead th').allTextContents(),
      r.stdout
        .split('\n')[0]!
        .trim()
        .split(/\s{2,}/),
      'the columns of the stdout table',
    );
    assert.deepEqual([...new Set(await page.locator('#jobs-table td[data-peer]').allTextContents())], ['skipped']);

    // The headline: each figure's range over the cells (the median as the card's value).
    const c = await cards(page);
    for (const [metric, key, fmt] of [
      ['vs-ideal', 'vsIdeal', 'speedup'],
      ['first-vs-ideal', 'firstVsIdeal', 'speedup'],
      ['jobs-per-sec', 'jobsPerSec', 'int'],
    ] as const) {
      const vals = cells.map((x) => x[key]);
      assert.equal(c[metric]!.text, rangeText(vals, fmt), metric);
      assert.equal(Number(c[metric]!.value), median(vals), metric);
    }
    assert.deepEqual([c['vs-peer'], c['idle-vs-peer']], [undefined, undefined]);
    assert.equal(c['peers']!.text, 'peers did not run');
    assert.match(
      (await page.textContent('#headline [data-metric="peers"] .d'))!,
      /cupy-jobs, torch-jobs skipped: the peers need a GPU \(--fake given\)/,
    );
    assert.match(
      (await page.textContent('#verdict'))!,
      /^Steady jobs take .+ the ideal .+; peers did not run; .+ jobs\/s\.$/,
    );

    // A chart per cell: the first job apart at 0, then each steady job in order; the ideal as a line.
    const charts = await jobsCharts(page);
    assert.deepEqual(
      charts.map((x) => x.key),
      cells.map((x) => x.key),
    );
    for (const ch of charts) {
      const cell = byKey(ch.key)!;
      assert.deepEqual(ch.points['first'], [[0, cell.firstMs]], ch.key);
      assert.deepEqual(
        ch.points['tandem'],
        cell.wallsMs.map((w, i) => [i + 1, w]),
        ch.key,
      );
      assert.equal(Object.values(ch.points).flat().length, cell.jobs + 1, `${ch.key}: a point per job`);
      assert.deepEqual(ch.levels, [['ideal', cell.idealMs]], ch.key);
      assert.equal(ch.yLabel, 'job wall (ms)');
      assert.match(ch.xLabel, /^job.*first/);
    }
    assert.ok((await page.locator('#notes li').count()) >= 3);

    for (const width of [800, 1400]) {
      await page.setViewportSize({ width, height: 1000 });
      await page.waitForTimeout(150);
      await assertNoOverflow(page, `jobs at ${width} px`);
      const w = await page.$$eval('svg.chart', (els) => els.map((e) => e.getBoundingClientRect().width));
      assert.ok(
        w.every((x) => x <= width - 20),
        `charts fit at ${width} px: ${w.join(', ')}`,
      );
    }
    await shoot(page, 'report-jobs');
    assert.deepEqual(problems, [], 'no console errors after resizing');
    await page.close();

    // The same results with both peers' figures: their columns, the vs-peer card, a line per peer.
    const withPeers = JSON.parse(JSON.stringify(doc)) as JobsDocument;
    withPeers.jobs.cells.forEach((x, k) => {
      const cupy = summarizeJobs(
        x.firstMs * 4,
        x.wallsMs.map((w, j) => w * (1.2 + 0.01 * j)),
        [x.afterIdleMs * 1.3],
      );
      const torch = summarizeJobs(
        x.firstMs * 6,
        x.wallsMs.map((w) => w * (1.1 + 0.1 * k)),
        [x.afterIdleMs * 1.5],
      );
      x.peers = { 'cupy-jobs': cupy, 'torch-jobs': torch };
      x.vsFasterPeer = x.medianMs / Math.min(cupy.medianMs, torch.medianMs);
      x.afterIdleVsFasterPeer = x.afterIdleMs / Math.min(cupy.afterIdleMs, torch.afterIdleMs);
    });
    const file2 = path.join(out, 'report-peers.html');
    await writeJobsReport(file2, withPeers);
    const p2 = await open(file2);
    const cells2 = withPeers.jobs.cells;
    const checked2 = await checkNumbers(p2.page, (key) => cells2.find((x) => x.key === key));
    assert.equal(
      checked2,
      checked + cells.length * (2 + 2 * 4),
      'and /peer, idle/peer, each peer’s median, p99, first and idle',
    );
    const c2 = await cards(p2.page);
    const vp = cells2.map((x) => x.vsFasterPeer!);
    assert.equal(c2['vs-peer']!.text, rangeText(vp, 'speedup'));
    assert.equal(Number(c2['vs-peer']!.value), median(vp));
    const ip = cells2.map((x) => x.afterIdleVsFasterPeer!);
    assert.equal(c2['idle-vs-peer']!.text, rangeText(ip, 'speedup'));
    assert.equal(c2['peers'], undefined);
    assert.match((await p2.page.textContent('#verdict'))!, /the faster peer’s median; .+ jobs\/s\.$/);
    for (const ch of await jobsCharts(p2.page)) {
      const cell = cells2.find((x) => x.key === ch.key)!;
      assert.deepEqual(ch.levels, [
        ['ideal', cell.idealMs],
        ['cupy-jobs', (cell.peers['cupy-jobs'] as { medianMs: number }).medianMs],
        ['torch-jobs', (cell.peers['torch-jobs'] as { medianMs: number }).medianMs],
      ]);
    }
    assert.equal(await p2.page.locator('#charts line.level[stroke-dasharray="5 4"]').count(), 2 * cells2.length);
    await assertNoOverflow(p2.page, 'jobs with peers at 1400 px');
    await p2.page.close();
  },
);
