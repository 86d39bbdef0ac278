#!/usr/bin/env node
// Screenshots of a tandem HTML report in headless Chromium, for the README (docs/img/):
//   node scripts/report-screenshots.mjs REPORT.html OUT_PREFIX [WIDTH[:HEIGHT | @SELECTOR[=NAME]] ...]
// writes OUT_PREFIX-WIDTH.png for each width (default 1400 and 800): the page's top HEIGHT
// pixels, or the element SELECTOR (as OUT_PREFIX-NAME-WIDTH.png), or else the whole page.
// Needs chromium (TANDEM_CHROMIUM, default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const [file, prefix, ...sizes] = process.argv.slice(2);
if (!file || !prefix) {
  process.stderr.write(
    'usage: node scripts/report-screenshots.mjs REPORT.html OUT_PREFIX [WIDTH[:HEIGHT | @SELECTOR[=NAME]] ...]\n',
  );
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.TANDEM_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  for (const size of sizes.length ? sizes : ['1400', '800']) {
    const [head, selector] = size.split('@');
    const [width, height] = head.split(':').map(Number);
    const [sel, name] = (selector ?? '').split('=');
    const page = await browser.newPage({ viewport: { width, height: height || 1000 } });
    await page.goto(pathToFileURL(path.resolve(file)).href);
    await page.waitForSelector('body[data-rendered="true"]');
    const out = sel ? `${prefix}-${name || 'part'}-${width}.png` : `${prefix}-${width}.png`;
    if (sel) await page.locator(sel).screenshot({ path: out });
    else await page.screenshot({ path: out, fullPage: !height });
    process.stdout.write(`${out}\n`);
    await page.close();
  }
} finally {
  await browser.close();
}
