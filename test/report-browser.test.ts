// The HTML report of a `tandem bench --fake` run, opened in headless Chromium (Debian's chromium
// driven by playwright-core): it loads without console errors or network requests, every number
// on the page equals the run's results.json, the timeline canvases are drawn (many colours, not
// blank) and zoom with the wheel, and the charts have one point per cell and peer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseBenchOptions, runBench } from '../src/cli/commands/bench.js';
import type { Results } from '../src/profile/results.js';

const CHROMIUM = process.env.TANDEM_CHROMIUM ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? false
  : `chromium not installed at ${CHROMIUM} (apt-get install chromium, or set TANDEM_CHROMIUM)`;
if (skip) process.stderr.write(`# skipping the report browser test: ${skip}\n`);

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
    case 'speedup':
      return `${v.toFixed(3)}×`;
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

test('the bench report renders in headless Chromium from its own JSON', { skip, timeout: 120_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-report-'));
  const { chromium } = await import('playwright-core');
  const context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
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
  try {
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
    const { writeReport } = await import('../src/profile/report.js');
    const reportPath = path.join(out, 'report.html');
    await writeReport(reportPath, results);
    const stored = JSON.parse(JSON.stringify(results)) as Results;

    const page = await context.newPage();
    const problems: string[] = [];
    const foreign: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith('file://') && !r.url().startsWith('data:')) foreign.push(r.url());
    });
    await page.goto(pathToFileURL(reportPath).href, { waitUntil: 'load' });
    await page.waitForSelector('body[data-rendered="true"]', { timeout: 10_000 });
    assert.deepEqual(problems, [], 'no console errors');
    assert.deepEqual(foreign, [], 'no network');

    // Every number on the page is the stored one, formatted.
    const shown = await page.$$eval('[data-key]', (els) =>
      els.map((e) => ({
        cell: e.getAttribute('data-cell')!,
        key: e.getAttribute('data-key')!,
        fmt: e.getAttribute('data-format')!,
        value: e.getAttribute('data-value')!,
        text: e.textContent!,
      })),
    );
    assert.ok(shown.length >= stored.cells.length * 10, `numbers shown: ${shown.length}`);
    let checked = 0;
    for (const s of shown) {
      const cell = stored.cells.find((c) => c.id === s.cell);
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
    assert.ok(checked >= stored.cells.length * 8, `numbers checked: ${checked}`);
    assert.equal(await page.locator('#summary-table tbody tr').count(), stored.cells.length);
    assert.equal(await page.locator('#peer-table tbody tr').count(), 1);
    assert.equal(await page.textContent('h1'), stored.title);

    // Charts: efficiency vs ratio (one per size) and vs size (one per ratio), a point per cell.
    assert.equal(await page.locator('svg.chart').count(), 2 + 3);
    const points = await page.locator('svg.chart circle').count();
    const withEff = stored.cells.filter((c) => typeof c.efficiency === 'number').length;
    assert.equal(points, 2 * withEff + 2, 'each cell in both charts, plus the peer point in both');

    // Timelines: serial and overlap drawn, not blank, and the wheel zooms.
    const canvases = await page.locator('canvas.timeline').count();
    assert.equal(canvases, stored.timelines.length);
    assert.ok(stored.timelines.some((t) => t.mode === 'serial') && stored.timelines.some((t) => t.mode === 'overlap'));
    const pixels = () =>
      page.$$eval('canvas.timeline', (els) =>
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
    const before = await pixels();
    for (const p of before) assert.ok(p.colours >= 8, `a timeline canvas is nearly blank (${p.colours} colours)`);
    await page.locator('canvas.timeline').first().scrollIntoViewIfNeeded();
    const box = (await page.locator('canvas.timeline').first().boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
    await page.mouse.wheel(0, -600);
    await page.waitForTimeout(100);
    const after = await pixels();
    assert.notEqual(after[0]!.hash, before[0]!.hash, 'the wheel zooms the timeline');
    await page.dblclick('canvas.timeline >> nth=0');

    const shot = await page.screenshot({ fullPage: true });
    assert.ok(shot.length > 30_000, `screenshot of ${shot.length} bytes looks blank`);
    if (process.env.TANDEM_REPORT_SHOT) await writeFile(process.env.TANDEM_REPORT_SHOT, shot);
    assert.deepEqual(problems, [], 'no console errors after interaction');
    // The page embeds exactly the JSON it was written from.
    const html = await readFile(reportPath, 'utf8');
    const embedded = /<script type="application\/json" id="tandem-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
    assert.deepEqual(JSON.parse(embedded), stored);
  } finally {
    await context.close();
    await rm(dir, { recursive: true, force: true });
  }
});
