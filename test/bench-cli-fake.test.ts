// `tandem bench --fake` end to end through the built CLI (bin/tandem.js → dist), plus its option
// parsing and the peers' plumbing that can run without a GPU (launch capture, a peer script
// reporting a missing module, a missing python).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultChunks, parseBenchOptions, parseSize } from '../src/cli/commands/bench.js';
import { UsageError } from '../src/util/errors.js';
import { FakeDevice } from '../src/testing/index.js';
import { LaunchRecorder, peerLaunch, type RecordedLaunch } from '../src/profile/capture.js';
import { attachPeerResults, parsePeerOutput, PEERS, runPeer, writePeerConfig } from '../src/profile/peers.js';
import { syntheticKernel, syntheticLauncher, SYNTHETIC_KERNEL, SYNTHETIC_SOURCE } from '../src/workloads/synthetic.js';
import type { Cell, Results } from '../src/profile/results.js';
import type { TraceDocument } from '../src/profile/trace.js';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}
const root = repoRoot();
const builtCli = existsSync(path.join(root, 'dist/src/cli/main.js'));

test(
  'tandem bench --fake writes results.json, trace.json and report.html and prints the table',
  { skip: builtCli ? false : 'dist/ not built (npm run build)', timeout: 120_000 },
  async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-bench-'));
    try {
      const out = path.join(dir, 'out');
      const r = spawnSync(
        process.execPath,
        [
          'bin/tandem.js',
          'bench',
          '--fake',
          '--sizes',
          '64K,16K',
          '--chunks',
          '8',
          '--ratios',
          '1,2',
          '--depths',
          '2',
          '--out',
          out,
        ],
        { cwd: root, encoding: 'utf8', timeout: 110_000 },
      );
      assert.equal(r.status, 0, `exit ${r.status}\nstderr:\n${r.stderr}`);
      // Data on stdout, progress on stderr.
      const lines = r.stdout.trim().split('\n');
      assert.match(lines[0]!, /^mode\s+size\s+ratio\s+chunks\s+wall ms\s+eff/);
      assert.equal(lines.length, 1 + 2 * 2 * 2, 'a row per cell: (overlap d2, serial) × 2 ratios × 2 sizes');
      assert.match(r.stderr, /\[8\/8\]/);
      assert.match(r.stderr, /fake device/);

      const results = JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8')) as Results;
      assert.equal(results.schema, 'tandem-results/1');
      assert.equal(results.environment.backend, 'fake');
      assert.equal(
        results.environment.tandemVersion,
        JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')).version,
      );
      assert.equal(results.cells.length, 8);
      for (const c of results.cells) {
        assert.equal(c.chunks, 8);
        assert.equal(c.stats.chunks, 8);
        assert.equal(c.stats.bytesOut, 8 * c.chunkBytes);
        assert.ok(c.alone && c.alone.computeMs! > 0 && c.alone.copyMs! > 0);
        assert.ok(typeof c.efficiency === 'number' && c.efficiency > 0);
        assert.ok(c.traced, 'each cell has its traced run');
        assert.ok(typeof c.traced.metrics.kernelUtilization.strict === 'number');
        assert.equal(typeof c.params.iters, 'number');
        assert.ok(c.measuredRatio! > 0);
      }
      assert.deepEqual([...new Set(results.cells.map((c) => c.mode))].sort(), ['overlap', 'serial']);
      // D2H alone per size, and no drift warning on the fake device's steady virtual copies.
      const drift = results.config.copyDrift as { chunkBytes: number; samplesMs: number[]; spread: number }[];
      assert.deepEqual(
        drift.map((d) => d.chunkBytes),
        [65536, 16384],
      );
      for (const d of drift) assert.ok(d.samplesMs.length >= 1 && d.spread === 0);
      assert.ok(!results.notes.some((n) => /drifted/.test(n)));
      // Every traced cell keeps its timeline (the report's picker shows any of them).
      assert.deepEqual(
        results.timelines.map((t) => t.cellId),
        results.cells.map((c) => c.id),
      );

      const trace = JSON.parse(await readFile(path.join(out, 'trace.json'), 'utf8')) as TraceDocument;
      assert.ok(trace.traceEvents.filter((e) => e.ph === 'X').length >= 2 * 8 * 3);
      const starts = trace.traceEvents.filter((e) => e.ph === 's').length;
      assert.ok(starts > 0);
      assert.equal(trace.traceEvents.filter((e) => e.ph === 'f').length, starts);

      const html = await readFile(path.join(out, 'report.html'), 'utf8');
      const embedded = /<script type="application\/json" id="tandem-data">([\s\S]*?)<\/script>/.exec(html);
      assert.ok(embedded, 'the results are embedded in the report');
      // The timelines travel beside it in compact columns (checked in report-browser.test).
      assert.deepEqual(JSON.parse(embedded[1]!), { ...results, timelines: [] });
      assert.match(html, /<script type="application\/json" id="tandem-timelines">\[\{/);
      assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)="https?:/i, 'no external resources');
      assert.doesNotMatch(html, /@import|url\(http/i);

      // --json prints the same document on stdout.
      const j = spawnSync(
        process.execPath,
        [
          'bin/tandem.js',
          'bench',
          '--fake',
          '--sizes',
          '16K',
          '--chunks',
          '4',
          '--ratios',
          '1',
          '--modes',
          'overlap',
          '--depths',
          '2',
          '--no-trace',
          '--json',
          '--out',
          path.join(dir, 'j'),
        ],
        { cwd: root, encoding: 'utf8', timeout: 60_000 },
      );
      assert.equal(j.status, 0, j.stderr);
      const doc = JSON.parse(j.stdout) as Results;
      assert.equal(doc.cells.length, 1);
      assert.equal(doc.cells[0]!.traced, null);
      assert.equal(doc.timelines.length, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  'bad bench options are usage errors (exit 2) that say what to change',
  { skip: builtCli ? false : 'dist/ not built' },
  () => {
    const r = spawnSync(process.execPath, ['bin/tandem.js', 'bench', '--fake', '--sizes', '64Q'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--sizes: cannot read '64Q'; write sizes like 64M/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  },
);

test(
  'Ctrl-C stops the sweep: one line, exit code 130',
  { skip: builtCli ? false : 'dist/ not built', timeout: 60_000 },
  async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-bench-int-'));
    try {
      // Nine cells of 3000 chunks: the signal arrives once the first cell is done, mid-sweep.
      const child = spawn(
        process.execPath,
        ['bin/tandem.js', 'bench', '--fake', '--sizes', '16K', '--chunks', '3000', '--out', dir],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      const code = await new Promise<number | null>((resolve) => {
        child.stderr.setEncoding('utf8').on('data', (d: string) => {
          const first = !stderr.includes('[1/');
          stderr += d;
          if (first && stderr.includes('[1/')) child.kill('SIGINT');
        });
        child.on('close', (c) => resolve(c));
      });
      assert.equal(code, 130, stderr);
      assert.match(stderr, /^tandem: interrupted: tandem bench stopped \(Ctrl-C\)/m);
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
      assert.equal(stdout, '');
      assert.equal(existsSync(path.join(dir, 'results.json')), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  'without an NVIDIA driver, bench --gpu says so in one line and exits 2, writing nothing',
  { skip: builtCli ? false : 'dist/ not built' },
  async (t) => {
    const { driverAvailable } = await import('../src/core/open.js');
    if (driverAvailable().ok) return t.skip('a driver is present here');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-bench-nodrv-'));
    try {
      const r = spawnSync(process.execPath, [path.join(root, 'bin/tandem.js'), 'bench', '--gpu'], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /^tandem: No NVIDIA driver found/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.equal(r.stdout, '');
      assert.deepEqual(await readdir(dir), [], 'no output directory was made');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('option parsing: sizes, lists, defaults and what each error says', () => {
  assert.equal(parseSize('64M'), 64 * 1024 ** 2);
  assert.equal(parseSize('4MiB'), 4 * 1024 ** 2);
  assert.equal(parseSize('512k'), 512 * 1024);
  assert.equal(parseSize('1G'), 1024 ** 3);
  assert.equal(parseSize('1048576'), 1048576);
  assert.throws(() => parseSize('1x'), /cannot read '1x'/);
  assert.throws(() => parseSize('100'), /too small/);
  assert.throws(() => parseSize('1025'), /multiple of 4/);
  const now = new Date('2026-11-25T12:34:56.789Z');
  const d = parseBenchOptions({}, now);
  assert.deepEqual(d.modes, ['overlap', 'serial']);
  assert.deepEqual(d.depths, [2, 'auto']);
  assert.deepEqual(d.ratios, [0.5, 1, 2]);
  assert.deepEqual(d.sizes, [64 * 1024 ** 2, 4 * 1024 ** 2]);
  assert.equal(d.chunks, null);
  assert.equal(d.out, path.resolve('tandem-bench-20261125-123456'));
  assert.equal(d.trace, true);
  const f = parseBenchOptions({ fake: true, depths: 'auto,4', chunks: 9, modes: 'overlap' });
  assert.deepEqual(f.depths, ['auto', 4]);
  assert.deepEqual(f.sizes, [256 * 1024, 64 * 1024]);
  assert.equal(f.chunks, 9);
  for (const [o, msg] of [
    [{ modes: 'fast' }, /--modes: unknown mode 'fast'; use overlap and\/or serial/],
    [{ depths: '0' }, /--depths: '0' is not a depth; use integers 1..16 or auto/],
    [{ depths: '17' }, /1..16/],
    [{ ratios: '1,-2' }, /--ratios: '-2' is not a positive number/],
    [{ chunks: '1' }, /at least 2 chunks/],
    [{ chunks: '2.5' }, /--chunks: '2.5' is not a positive integer/],
    [{ device: '-1' }, /--device: '-1' is not a device ordinal/],
    [{ workload: 'nope' }, /unknown workload 'nope'; built in: synthetic, fractal, decoder/],
    [{ sizes: ',' }, /--sizes is empty/],
  ] as const) {
    assert.throws(
      () => parseBenchOptions(o),
      (e: Error) => e instanceof UsageError && msg.test(e.message),
      JSON.stringify(o),
    );
  }
  // Enough chunks that fill and drain are a small edge, within bounds.
  assert.equal(defaultChunks(64 * 1024 ** 2, false), 128);
  assert.equal(defaultChunks(4 * 1024 ** 2, false), 2048);
  assert.equal(defaultChunks(1024 ** 2, false), 4096);
  assert.equal(defaultChunks(1024 ** 3, false), 64);
});

test('the synthetic kernel launch is captured as a rule the peers can replay', async () => {
  const fake = new FakeDevice();
  const rec = new LaunchRecorder();
  const dev = rec.wrap(fake);
  const { program, kernel } = syntheticKernel(dev);
  const launch = syntheticLauncher(dev, kernel, 4096);
  const stream = fake.createStream();
  const bufs = [fake.allocDevice(4096), fake.allocDevice(4096)];
  try {
    const perChunk: { index: number; output: (typeof bufs)[number]; launches: RecordedLaunch[] }[] = [];
    for (let i = 5; i < 8; i++) {
      rec.launches.length = 0;
      rec.recording = true;
      launch(stream, bufs[i % 2]!, null, i, 7, 0);
      rec.recording = false;
      perChunk.push({ index: i, output: bufs[i % 2]!, launches: [...rec.launches] });
    }
    await stream.synchronize();
    const r = peerLaunch(perChunk);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.launch.kernel.source, SYNTHETIC_SOURCE);
    assert.equal(r.launch.kernel.name, SYNTHETIC_KERNEL);
    assert.deepEqual(r.launch.block, [256, 1, 1]);
    // out, in (= out without inputs), words, chunk, iters, inWords
    assert.deepEqual(r.launch.args, [
      { kind: 'output' },
      { kind: 'output' },
      { kind: 'const', type: 'u64', value: '1024' },
      { kind: 'index', type: 'u32', offset: 0 },
      { kind: 'const', type: 'u32', value: '7' },
      { kind: 'const', type: 'u64', value: '0' },
    ]);
    // Two launches per chunk, or arguments that change otherwise, cannot be replayed.
    const twice = perChunk.map((c) => ({ ...c, launches: [...c.launches, ...c.launches] }));
    assert.match((peerLaunch(twice) as { reason: string }).reason, /launched 2 kernels/);
    const odd = perChunk.map((c, k) => ({
      ...c,
      launches: c.launches.map((l) => ({ ...l, args: l.args.map((a, j) => (j === 4 ? k * k : a)) })),
    }));
    assert.match((peerLaunch(odd) as { reason: string }).reason, /argument 4 \(u32\) varies/);
  } finally {
    for (const b of bufs) b.close();
    stream.close();
    program.close();
    fake.close();
  }
});

test('peer plumbing: result parsing, a missing python, a peer without its modules', async () => {
  assert.deepEqual(parsePeerOutput('noise\n{"peer":"x","status":"ok","cells":[]}\n'), {
    peer: 'x',
    status: 'ok',
    cells: [],
  });
  assert.equal(parsePeerOutput('not json\n{"a":1}'), null);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-peers-'));
  try {
    const config = path.join(dir, 'c.json');
    await writePeerConfig(config, {
      device: 0,
      warmupChunks: 1,
      kernel: { source: SYNTHETIC_SOURCE, name: SYNTHETIC_KERNEL, options: [] },
      cells: [],
    });
    const missing = await runPeer(PEERS[0]!, config, { python: path.join(dir, 'no-such-python'), log: () => {} });
    assert.equal(missing.status, 'skipped');
    assert.match((missing as { reason: string }).reason, /not found \(set TANDEM_PYTHON/);
    // A python that lacks the module: the peer says so itself (skipped, exit 3), no crash.
    const probe = spawnSync('python3', ['-c', 'import torch, cupy'], { encoding: 'utf8' });
    if (probe.error || probe.status === 0) return; // no python3, or a GPU host with everything
    for (const spec of PEERS) {
      const lines: string[] = [];
      const o = await runPeer(spec, config, { log: (l) => lines.push(l) });
      assert.equal(o.status, 'skipped', `${spec.name}: ${JSON.stringify(o)} ${lines.join('\n')}`);
      assert.match((o as { reason: string }).reason, /(PyTorch|CuPy).*(pip install)/);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('peer figures pair with the right tandem cells: stream peers by depth, the habit with all', () => {
  const cell = (id: string, mode: 'overlap' | 'serial', depth: number, wallMs: number) =>
    ({ id, mode, depth, stats: { wallMs }, peers: {} }) as unknown as Cell;
  const cells = [
    cell('64MiB-r1-d2', 'overlap', 2, 100),
    cell('64MiB-r1-d3', 'overlap', 3, 90),
    cell('64MiB-r1-serial', 'serial', 1, 200),
    cell('4MiB-r1-d2', 'overlap', 2, 50),
    cell('64MiB-r1.5-d2', 'overlap', 2, 10),
  ];
  const r = (key: string, depth: number | null, wallMs: number) => ({
    key,
    depth,
    wallMs,
    computeAloneMs: 1,
    copyAloneMs: 2,
    efficiency: 0.5,
    bytes: 3,
  });
  attachPeerResults(cells, 'cupy-streams', [r('64MiB-r1', 2, 120), r('64MiB-r1', 3, 99)]);
  attachPeerResults(cells, 'torch-habit', [r('64MiB-r1', null, 400)]);
  assert.equal(cells[0]!.peers['cupy-streams']!.tandemSpeedup, 1.2);
  assert.equal(cells[1]!.peers['cupy-streams']!.tandemSpeedup, 1.1);
  assert.equal(cells[2]!.peers['cupy-streams'], undefined, 'no stream peer beside serial');
  assert.deepEqual(
    cells.map((c) => c.peers['torch-habit']?.tandemSpeedup),
    [4, 400 / 90, 2, undefined, undefined],
  );
  assert.deepEqual(cells[3]!.peers, {}, 'another size is not paired');
  assert.deepEqual(cells[4]!.peers, {}, 'ratio 1.5 is not ratio 1');
});

test('a peer that did not time its stages alone gets its efficiency from the tandem cell', () => {
  const cell = (id: string, alone: { computeMs: number; copyMs: number } | null) =>
    ({ id, mode: 'overlap', depth: 2, alone, stats: { wallMs: 100 }, peers: {} }) as unknown as Cell;
  const cells = [cell('64MiB-r2-d2', { computeMs: 80, copyMs: 40 }), cell('4MiB-r2-d2', null)];
  const r = (key: string) => ({
    key,
    depth: null,
    wallMs: 400,
    computeAloneMs: null,
    copyAloneMs: null,
    efficiency: null,
    bytes: 3,
  });
  attachPeerResults(cells, 'torch-habit', [r('64MiB-r2'), r('4MiB-r2')]);
  assert.equal(cells[0]!.peers['torch-habit']!.efficiency, 0.2, 'the slower stage alone (80 ms) over the peer wall');
  assert.equal(cells[1]!.peers['torch-habit']!.efficiency, null, 'no ideal known: none made up');
  // A peer's own figure stands.
  attachPeerResults(cells, 'torch-habit', [{ ...r('64MiB-r2'), efficiency: 0.3 }]);
  assert.equal(cells[0]!.peers['torch-habit']!.efficiency, 0.3);
});
