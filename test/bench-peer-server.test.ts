// The stream peers interleaved with tandem's runs: the serve protocol of bench/peers/common.py
// (driven for real through a Python peer whose stages only sleep: test/fixtures/fake_peer.py),
// PeerServer's failures (an error reply, a peer that dies mid-request, a missing module, a missing
// python), the batch mode's repeats, and the sweep calling the peers right after each of its runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PeerServer } from '../src/profile/peer-server.js';
import { runPeer, writePeerConfig, type PeerSpec } from '../src/profile/peers.js';
import { runSweep, type SweepPeers } from '../src/profile/sweep.js';
import { benchWorkload, FAKE_COPY_BYTES_PER_MS } from '../src/profile/bench-workloads.js';
import { FakeDevice } from '../src/testing/index.js';
import { parseBenchOptions } from '../src/cli/commands/bench.js';
import { UsageError } from '../src/util/errors.js';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}
const fixtures = path.join(repoRoot(), 'test/fixtures');
const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
const noPython = python.error || python.status !== 0 ? 'python3 not installed (.ci/run installs it)' : false;
const spec: PeerSpec = { name: 'fake-peer', script: 'fake_peer.py', description: 'sleeps', perDepth: true };
const kernel = { source: 'extern "C" __global__ void k() {}', name: 'k', options: [] };
const cell = {
  key: '64KiB-r1',
  chunkBytes: 65536,
  chunks: 8,
  launch: {
    grid: [1, 1, 1] as [number, number, number],
    block: [1, 1, 1] as [number, number, number],
    sharedMemBytes: 0,
    args: [],
  },
};
const quiet = { dir: fixtures, log: () => {} };

test(
  'a serving peer prepares a cell, runs it at each depth asked, and ends with its input',
  { skip: noPython },
  async () => {
    const s = await PeerServer.start(spec, 0, quiet);
    assert.equal(s.failure, null);
    try {
      assert.deepEqual(await s.prepare(cell, kernel, 3), { computeAloneMs: 4, copyAloneMs: 8 });
      assert.deepEqual(
        await s.prepare(cell, kernel, 3, false),
        { computeAloneMs: null, copyAloneMs: null },
        'warmed up only',
      );
      const w2 = await s.run(2);
      const w3 = await s.run(3);
      assert.ok(w2 > 208 && w2 < 300, `wall ${w2}`);
      assert.ok(w3 > 308 && w3 < 400, `wall ${w3}`);
      // A second cell replaces the first.
      assert.deepEqual(await s.prepare({ ...cell, chunks: 2 }, kernel, 3), { computeAloneMs: 1, copyAloneMs: 2 });
      assert.ok((await s.run(1)) > 102);
    } finally {
      await s.close();
    }
    assert.equal(s.failure, null, 'a clean exit is not a failure');
  },
);

test(
  'a peer that reports an error or dies mid-request is failed with the reason and not used again',
  { skip: noPython },
  async () => {
    const a = await PeerServer.start(spec, 0, quiet);
    try {
      await a.prepare(cell, kernel, 3);
      await assert.rejects(a.run(13), /RuntimeError: CUDA_ERROR_ILLEGAL_ADDRESS \(fake\)/);
      assert.equal(a.failure?.status, 'failed');
      await assert.rejects(a.run(2), /CUDA_ERROR_ILLEGAL_ADDRESS/, 'not asked again');
    } finally {
      await a.close();
    }
    const b = await PeerServer.start(spec, 0, quiet);
    try {
      await b.prepare(cell, kernel, 3);
      await assert.rejects(b.run(14), /exited with code 9/);
      assert.match(b.failure!.reason, /exited with code 9/);
    } finally {
      await b.close();
    }
    // 'run' before 'cell' is the peer's own error reply.
    const c = await PeerServer.start(spec, 0, quiet);
    await assert.rejects(c.run(2), /'run' before any 'cell'/);
    await c.close();
  },
);

test('a peer without its modules or without python is skipped with the reason', { skip: noPython }, async () => {
  process.env.FAKE_PEER_SKIP = '1';
  try {
    const s = await PeerServer.start(spec, 0, quiet);
    assert.equal(s.failure?.status, 'skipped');
    assert.match(s.failure!.reason, /pip install nothing/);
    await assert.rejects(s.prepare(cell, kernel, 3), /pip install nothing/);
    await s.close();
  } finally {
    delete process.env.FAKE_PEER_SKIP;
  }
  const none = await PeerServer.start(spec, 0, { ...quiet, python: path.join(fixtures, 'no-such-python') });
  assert.equal(none.failure?.status, 'skipped');
  assert.match(none.failure!.reason, /not found \(set TANDEM_PYTHON/);
  const gone = await PeerServer.start({ ...spec, script: 'no_such_peer.py' }, 0, quiet);
  assert.match(gone.failure!.reason, /no_such_peer\.py not found/);
});

test('batch mode runs every cell at each depth, the median of its repeats', { skip: noPython }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-peer-batch-'));
  try {
    const config = path.join(dir, 'c.json');
    await writePeerConfig(config, {
      device: 0,
      warmupChunks: 1,
      kernel,
      cells: [{ ...cell, depths: [2, 3] }],
      repeats: 3,
    });
    const o = await runPeer(spec, config, quiet);
    assert.equal(o.status, 'ok', JSON.stringify(o));
    const cells = (o as { cells: { depth: number; wallMs: number; efficiency: number }[] }).cells;
    assert.deepEqual(
      cells.map((c) => c.depth),
      [2, 3],
    );
    assert.ok(cells[0]!.wallMs > 208 && cells[1]!.wallMs > 308);
    assert.ok(Math.abs(cells[0]!.efficiency - 8 / cells[0]!.wallMs) < 1e-12);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(
  'a one-batch peer (torch-habit) imports first, then runs the config it is sent and exits',
  { skip: noPython },
  async () => {
    process.env.FAKE_PEER_ONCE = '1';
    try {
      const s = await PeerServer.start({ ...spec, perDepth: false }, 0, quiet);
      assert.equal(s.failure, null);
      const o = await s.batch({ device: 0, warmupChunks: 1, kernel, cells: [{ ...cell, depths: [2] }] });
      assert.equal(o.status, 'ok');
      assert.deepEqual(
        (o as { cells: { key: string; wallMs: number; efficiency: number }[] }).cells.map((c) => [
          c.key,
          c.wallMs,
          c.efficiency,
        ]),
        [['64KiB-r1', 80, 0.1]],
      );
      await s.close();
      assert.equal(s.failure, null, 'its exit after the batch is the normal end');
    } finally {
      delete process.env.FAKE_PEER_ONCE;
    }
  },
);

test('the sweep runs the peers right after each of its repeated runs, at the depth it ran, and reports medians', async () => {
  const device = new FakeDevice({ copyBytesPerMs: FAKE_COPY_BYTES_PER_MS });
  const calls: string[] = [];
  let round = 0;
  const peers: SweepPeers = {
    async prepare(c) {
      calls.push(`prepare ${c.key} ${c.launch.kernel.name}`);
    },
    async run(depth) {
      calls.push(`run d${depth}`);
      round++;
      // cupy-like: a fixed wall; torch-like: absent in the middle round (a peer that failed).
      const walls: Record<string, number> = { a: 50 };
      if (round % 3 !== 2) walls.b = 100 + round;
      return walls;
    },
    // 'a' timed its stages alone; 'b' did not (interleaved peers in tandem bench): tandem's ideal.
    alone: (name) =>
      name === 'a' ? { computeAloneMs: 10, copyAloneMs: 40 } : { computeAloneMs: null, copyAloneMs: null },
  };
  try {
    const workload = await benchWorkload('synthetic', 'fake');
    const out = await runSweep(
      device,
      workload,
      {
        modes: ['overlap', 'serial'],
        depths: [2],
        ratios: [1],
        sizes: [16 * 1024],
        chunks: () => 6,
        warmupChunks: 1,
        repeats: 3,
        traced: false,
        showcase: () => false,
        maxTimelineChunks: 10,
      },
      { log: () => {}, peers },
    );
    const [overlap, serial] = out.cells;
    assert.equal(calls[0], `prepare 16KiB-r1 ${out.peerCells[0]!.launch!.kernel.name}`);
    assert.deepEqual(calls.slice(1), ['run d2', 'run d2', 'run d2'], 'once after each overlap run; never for serial');
    assert.equal(overlap!.walls!.length, 3);
    const sorted = [...overlap!.walls!].sort((x, y) => x - y);
    assert.equal(overlap!.stats.wallMs, sorted[1], 'headline = the median run');
    assert.equal(serial!.walls, undefined, 'serial runs once');
    assert.deepEqual(serial!.peers, {});
    const a = overlap!.peers.a!;
    assert.equal(a.wallMs, 50);
    assert.equal(a.tandemSpeedup, 50 / sorted[1]!);
    assert.equal(a.efficiency, 40 / 50);
    assert.equal(a.interleaved, true);
    const ratios = overlap!.walls!.map((w) => 50 / w);
    assert.deepEqual(a.ratioRange, [Math.min(...ratios), Math.max(...ratios)]);
    const b = overlap!.peers.b!;
    assert.deepEqual(b.walls, [101, 103], 'only the rounds it ran');
    assert.equal(b.wallMs, 102);
    assert.equal(b.efficiency, Math.max(overlap!.alone!.computeMs!, overlap!.alone!.copyMs!) / 102);
    assert.deepEqual(b.ratioRange, [
      Math.min(101 / overlap!.walls![0]!, 103 / overlap!.walls![2]!),
      Math.max(101 / overlap!.walls![0]!, 103 / overlap!.walls![2]!),
    ]);
  } finally {
    device.close();
  }
});

test('--repeats: a positive integer up to 99, 3 by default', () => {
  assert.equal(parseBenchOptions({ fake: true }).repeats, 3);
  assert.equal(parseBenchOptions({ fake: true, repeats: '5' }).repeats, 5);
  for (const bad of ['0', '1.5', 'x', '100'])
    assert.throws(() => parseBenchOptions({ fake: true, repeats: bad }), UsageError, bad);
});
