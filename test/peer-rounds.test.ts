import test from 'node:test';
import assert from 'node:assert/strict';
import { attachInterleaved, PeerDepthChoice, type InterleavedRound } from '../src/profile/peer-rounds.js';
import type { Cell } from '../src/profile/results.js';
import type { PipelineStats } from '../src/pipeline/types.js';

test('peers run at both depths until each has chosen the faster one, then only at that one', () => {
  const choice = new PeerDepthChoice();
  const depths = [16, 3];
  assert.deepEqual([...choice.skipAt(16, depths)], [], 'first round: everyone at every depth');
  assert.deepEqual([...choice.skipAt(3, depths)], []);
  choice.record({ cupy: { 16: 161.6, 3: 159.9 }, torch: { 16: 159.9, 3: 161.6 }, lone: { 16: 100 } });
  assert.deepEqual([...choice.skipAt(16, depths)], ['cupy']);
  assert.deepEqual([...choice.skipAt(3, depths)], ['torch']);
  // The first choice stands, whatever later rounds show.
  choice.record({ cupy: { 16: 150, 3: 159.9 } });
  assert.deepEqual([...choice.skipAt(16, depths)], ['cupy']);
  // 'lone' never ran at two depths: it has no choice and runs wherever the round goes.
  assert.ok(!choice.skipAt(3, depths).has('lone') && !choice.skipAt(16, depths).has('lone'));
  // 'auto' resolved to 15/3 this round: cupy's 3 is here, torch's 16 is not, so torch runs at both.
  assert.deepEqual([...choice.skipAt(15, [15, 3])], ['cupy']);
  assert.deepEqual([...choice.skipAt(3, [15, 3])], []);
  // A round at one depth skips nobody.
  assert.deepEqual([...choice.skipAt(2, [2])], []);
});

const round = (wallMs: number, peers: InterleavedRound['peers']): InterleavedRound => ({
  stats: { wallMs } as PipelineStats,
  t0: 0,
  t1: 1,
  peers,
});
const cell = (): Cell =>
  ({
    id: '4MiB-r1-dauto',
    chunkBytes: 4,
    chunks: 2,
    alone: { computeMs: 150, copyMs: 160 },
    peers: {},
  }) as unknown as Cell;
const noAlone = { alone: () => ({ computeAloneMs: null, copyAloneMs: null }) };

test('a peer is reported at the depth it ran in every round, with the other one in depthsRun', () => {
  const c = cell();
  // Its later rounds at 3 came out slower than its single run at 16: still reported at 3 (the
  // depth with every round), not at a one-run figure.
  attachInterleaved(
    c,
    [round(160, { cupy: { 16: 161, 3: 160 } }), round(160, { cupy: { 3: 162 } }), round(160, { cupy: { 3: 163 } })],
    noAlone,
  );
  const p = c.peers.cupy!;
  assert.equal(p.depth, 3);
  assert.equal(p.wallMs, 162);
  assert.deepEqual(p.walls, [160, 162, 163]);
  assert.deepEqual(p.depthsRun, [
    { depth: 3, wallMs: 162, runs: 3 },
    { depth: 16, wallMs: 161, runs: 1 },
  ]);
  assert.equal(p.tandemSpeedup, 162 / 160);
  assert.equal(p.efficiency, 160 / 162, "against tandem's ideal: the peer timed no stages alone");
});

test('with as many rounds at each depth, the lower median is reported (one repeat)', () => {
  const c = cell();
  attachInterleaved(c, [round(160, { torch: { 16: 170, 3: 165 } })], noAlone);
  assert.equal(c.peers.torch!.depth, 3);
  assert.equal(c.peers.torch!.wallMs, 165);
  assert.equal(c.peers.torch!.walls, undefined, 'one run: no spread to show');
});
