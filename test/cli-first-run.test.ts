// The first run on a host without a GPU, through the built CLI (bin/tandem.js): bench, render and
// info fall back to the fake device with a one-line banner; the fake bench's table repeats exactly
// and overlap beats serial in every cell; --version, --out -, the tracing cost, the progress line,
// and Ctrl-C of a fake 1080p render.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { driverAvailable } from '../src/core/open.js';
import { EtaEstimator } from '../src/cli/progress.js';
import { traceCostText, traceNoiseUs } from '../src/profile/table.js';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}
const root = repoRoot();
const cli = path.join(root, 'bin/tandem.js');
const built = existsSync(path.join(root, 'dist/src/cli/main.js')) ? false : 'dist/ not built (npm run build)';
const noDriver =
  built || (driverAvailable().ok ? 'an NVIDIA driver is present; this checks the no-driver path' : false);
const BANNER =
  /^tandem (bench|render|info): no NVIDIA driver found; running on the fake device, whose times are virtual/;

function tandem(args: string[], cwd = root, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [cli, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, TANDEM_DEBUG: '', ...env },
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

async function withDir<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-first-run-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test(
  '`tandem bench` with no driver runs on the fake device: one banner line, exit 0, the same table twice, overlap ≥ serial',
  { skip: noDriver, timeout: 240_000 },
  () =>
    withDir((dir) => {
      const a = tandem(['bench', '--out', path.join(dir, 'a')], dir);
      assert.equal(a.status, 0, a.stderr);
      assert.match(a.stderr.split('\n')[0]!, BANNER);
      assert.equal(a.stderr.match(/no NVIDIA driver found/g)?.length, 1, 'one banner');
      const b = tandem(['bench', '--fake', '--out', path.join(dir, 'b')], dir);
      assert.equal(b.status, 0, b.stderr);
      assert.doesNotMatch(b.stderr, /no NVIDIA driver found/, '--fake: no banner');
      assert.equal(a.stdout, b.stdout, 'two fake runs print the same table');
      const rows = a.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s{2,}/));
      // Columns: mode, size, ratio, chunks, wall ms, eff, …
      const serial = new Map(rows.filter((r) => r[0] === 'serial').map((r) => [`${r[1]} ${r[2]}`, Number(r[5])]));
      const overlap = rows.filter((r) => r[0]!.startsWith('overlap'));
      assert.ok(serial.size > 0 && overlap.length >= serial.size, a.stdout);
      for (const r of overlap) {
        const s = serial.get(`${r[1]} ${r[2]}`)!;
        assert.ok(Number(r[5]) >= s, `${r.join(' | ')}: overlap efficiency below serial's ${s}`);
      }
      assert.doesNotMatch(a.stdout, /\s-\d/, 'no negative figure (tracing cost)');
    }),
);

test('`tandem bench --gpu` with no driver: one line, exit 2, nothing written', { skip: noDriver }, () =>
  withDir(async (dir) => {
    const r = tandem(['bench', '--gpu'], dir);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^tandem: No NVIDIA driver found/);
    assert.equal(r.stdout, '');
    assert.deepEqual(await readdir(dir), []);
    const d = tandem(['bench', '--devices', '2'], dir);
    assert.equal(d.status, 2, d.stderr);
    assert.match(d.stderr, /--devices names a GPU: add --fake/);
  }),
);

test(
  '`tandem info` with no driver shows the fake device (exit 0); --fake and --json say so',
  { skip: noDriver },
  () => {
    const r = tandem(['info']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr.split('\n')[0]!, BANNER);
    assert.match(r.stdout, /^no NVIDIA driver found; the fake device/);
    assert.match(r.stdout, /tandem fake device/);
    const j = tandem(['info', '--fake', '--json']);
    assert.equal(j.status, 0, j.stderr);
    assert.equal(j.stderr, '', '--fake: no banner');
    const report = JSON.parse(j.stdout) as { backend: string; devices: { name: string }[] };
    assert.equal(report.backend, 'fake');
    assert.equal(report.devices[0]!.name, 'tandem fake device');
    const both = tandem(['info', '--fake', '--gpu']);
    assert.equal(both.status, 2);
    assert.match(both.stderr, /--fake and --gpu contradict/);
  },
);

test('`tandem render` with no driver renders on the fake device with the banner', { skip: noDriver }, () =>
  withDir((dir) => {
    const out = path.join(dir, 'x.raw');
    const r = tandem(['render', '--size', '32x16', '--frames', '4', '--no-progress', '--out', out], dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr.split('\n')[0]!, BANNER);
    assert.equal(readFileSync(out).byteLength, 4 * 32 * 16 * 1.5);
  }),
);

test("--version prints tandem's own version, not the npm package's it runs from", { skip: built }, () => {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const r = tandem(['--version'], root, { npm_package_version: '9.9.9' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^tandem/${pkg.version.replace(/\./g, '\\.')} `));
  const help = tandem(['--help']);
  assert.match(help.stdout, /Without a GPU:[\s\S]*--gpu[\s\S]*requires a\s+GPU/);
});

test('--out - parses like --out=- (raw frames on stdout); bench refuses it with a reason', { skip: built }, () => {
  const frames = 4 * 32 * 16 * 1.5;
  for (const out of [['--out', '-'], ['--out=-']]) {
    const r = spawnSync(
      process.execPath,
      [cli, 'render', '--fake', '--size', '32x16', '--frames', '4', '--no-progress', ...out],
      {
        cwd: root,
        env: { ...process.env, TANDEM_DEBUG: '' },
        timeout: 60_000,
      },
    );
    assert.equal(r.status, 0, String(r.stderr));
    assert.equal(r.stdout.byteLength, frames, out.join(' '));
  }
  const b = tandem(['bench', '--fake', '--out', '-']);
  assert.equal(b.status, 2);
  assert.match(b.stderr, /--out -: bench writes results\.json, trace\.json and report\.html into a directory/);
});

test('the tracing cost is never printed negative: within noise when under the untraced runs’ spread', () => {
  assert.equal(traceCostText(-320.4, 0), 'within noise');
  assert.equal(traceCostText(-1e-12, 0), '0.00');
  assert.equal(traceCostText(3, traceNoiseUs({ walls: [10, 10.5, 10.1], chunks: 100 })), 'within noise');
  assert.equal(traceCostText(3, traceNoiseUs({ walls: [10, 10.1], chunks: 1000 })), '3.00');
  assert.equal(traceCostText(null, 0), '–');
});

test('the ETA is smoothed: a burst of chunks moves it a little, not to nothing', () => {
  const eta = new EtaEstimator(600);
  let last = Infinity;
  // 2 frames/s for 30 s, sampled every 250 ms.
  for (let t = 250; t <= 30_000; t += 250) {
    eta.sample(Math.floor((t / 1000) * 2), t);
    last = eta.eta(Math.floor((t / 1000) * 2))!;
  }
  assert.ok(Math.abs(last - 270) < 15, `steady: ${last}`);
  // 12 frames land at once (a deep ring draining), then the old pace again.
  eta.sample(72, 30_250);
  const afterBurst = eta.eta(72)!;
  assert.ok(afterBurst > last * 0.5, `burst: ${last} → ${afterBurst}`);
  assert.equal(eta.eta(600), null, 'no ETA once done');
});

test('the progress line in a log: one line per tenth of the frames, none repeated at the end', { skip: built }, () =>
  withDir((dir) => {
    const r = tandem(['render', '--fake', '--size', '64x32', '--frames', '40', '--out', path.join(dir, 'y.raw')], dir);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('tandem render: '));
    const counts = lines.map((l) => Number(/ (\d+)\/40 frames/.exec(l)![1]));
    for (let k = 1; k <= 10; k++) assert.ok(counts.includes(4 * k), `a line at ${4 * k}/40: ${counts}`);
    assert.equal(counts.filter((c) => c === 40).length, 1, `one line at 40/40: ${counts}`);
    assert.doesNotMatch(
      lines.find((l) => / 40\/40 /.test(l))!,
      /eta/,
      'no ETA once done',
    );
  }),
);

test(
  'Ctrl-C one second into a fake 1080p render: the run stops and exits with 130',
  { skip: built, timeout: 120_000 },
  () =>
    withDir(
      (dir) =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            [cli, 'render', '--fake', '--frames', '600', '--out', path.join(dir, 'big.mp4')],
            {
              cwd: dir,
              env: { ...process.env, TANDEM_DEBUG: '' },
            },
          );
          let stderr = '';
          child.stderr.on('data', (d: Buffer) => (stderr += d));
          let sentAt = 0;
          setTimeout(() => {
            sentAt = performance.now();
            child.kill('SIGINT');
          }, 1000);
          // A hang guard, not a speed goal: a kernel that kept the event loop took minutes here.
          const guard = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`no exit 60 s after SIGINT; stderr:\n${stderr}`));
          }, 61_000);
          child.on('exit', (code) => {
            clearTimeout(guard);
            try {
              assert.ok(sentAt > 0, `exited before the SIGINT (${code}): ${stderr}`);
              assert.equal(code, 130, stderr);
              assert.match(stderr, /tandem render interrupted/);
              resolve();
            } catch (err) {
              reject(err);
            }
          });
        }),
    ),
);
