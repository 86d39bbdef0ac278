// Metrics on hand-made timelines whose gaps, busy times and efficiency are known by construction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChunkTiming, PipelineStats } from '../src/pipeline/types.js';
import {
  computeGaps,
  computeMetrics,
  efficiencyAgainstAlone,
  overlapMs,
  traceCostPerChunkMs,
  unionMs,
} from '../src/profile/metrics.js';

const close = (a: number | null | undefined, b: number, eps = 1e-9) => {
  assert.ok(typeof a === 'number' && Math.abs(a - b) <= eps, `expected ${b}, got ${a}`);
};

function stats(timeline: ChunkTiming[], o: Partial<PipelineStats> = {}): PipelineStats {
  let end = 0;
  for (const c of timeline) end = Math.max(end, c.sink[1], c.copy[1]);
  return {
    mode: 'overlap',
    depth: 2,
    deviceSlots: 2,
    chunks: timeline.length,
    bytesOut: timeline.length * 1000,
    bytesIn: 0,
    wallMs: end,
    stages: { upload: { busyMs: null }, compute: { busyMs: null }, copy: { busyMs: null }, sink: { busyMs: null } },
    bottleneck: null,
    efficiency: null,
    copyThroughput: { busy: null, wall: 0 },
    timeline,
    ...o,
  };
}

/** Serial: compute 1, copy 1, host stage 0.5, and the host enqueues the next kernel only after. */
function serialTimeline(n: number): ChunkTiming[] {
  const out: ChunkTiming[] = [];
  for (let i = 0; i < n; i++) {
    const t = i * 2.5;
    out.push({
      index: i,
      slot: 0,
      compute: [t, t + 1],
      copy: [t + 1, t + 2],
      sink: [t + 2, t + 2.5],
      enqueuedCompute: t,
      enqueuedCopy: t,
    });
  }
  return out;
}

/** Depth 2, copy-bound: kernels 0.5, copies 1; kernel n waits for copy n − 2 (barrier 1). */
function copyBoundTimeline(n: number): ChunkTiming[] {
  const out: ChunkTiming[] = [];
  let copyFree = 0;
  let computeFree = 0;
  for (let i = 0; i < n; i++) {
    const slotFree = i >= 2 ? out[i - 2]!.copy[1] : 0;
    const cs = Math.max(computeFree, slotFree);
    const ce = cs + 0.5;
    computeFree = ce;
    const ps = Math.max(ce, copyFree);
    const pe = ps + 1;
    copyFree = pe;
    out.push({
      index: i,
      slot: i % 2,
      compute: [cs, ce],
      copy: [ps, pe],
      sink: [pe, pe + 0.1],
      enqueuedCompute: 0,
      enqueuedCopy: 0,
    });
  }
  return out;
}

test('unionMs and overlapMs merge overlapping spans', () => {
  assert.equal(
    unionMs([
      [0, 2],
      [1, 3],
      [5, 6],
    ]),
    4,
  );
  assert.equal(unionMs([]), 0);
  assert.equal(
    unionMs([
      [3, 3],
      [4, 2],
    ]),
    0,
  );
  assert.equal(
    overlapMs(
      [
        [0, 2],
        [1, 3],
        [5, 6],
      ],
      1.5,
      5.5,
    ),
    2,
  );
});

test('serial timeline: efficiency, busy fractions, host-late gaps and strict utilisation', () => {
  const m = computeMetrics(stats(serialTimeline(4), { mode: 'serial', depth: 1 }));
  assert.equal(m.source, 'timeline');
  close(m.wallMs, 10);
  close(m.busyMs.compute, 4);
  close(m.busyMs.copy, 4);
  close(m.busyMs.sink, 2);
  assert.equal(m.busyMs.upload, null);
  close(m.busyFraction.compute, 0.4);
  close(m.busyFraction.sink, 0.2);
  close(m.idealMs, 4);
  close(m.efficiency, 0.4);
  // Compute and copy tie; the first stage in order wins the tie.
  assert.equal(m.bottleneck, 'compute');
  // Window: first kernel start 0 → last kernel end 8.5.
  close(m.kernelUtilization.window?.ms, 8.5);
  close(m.kernelUtilization.strict, 4 / 8.5);
  close(m.kernelUtilization.whole, 0.4);
  assert.equal(m.gaps.count, 3);
  close(m.gaps.totalMs, 4.5);
  close(m.gaps.maxMs, 1.5);
  close(m.gaps.byCause['host-late'], 4.5);
  const g = m.gaps.largest[0]!;
  close(g.during.copy, 1);
  close(g.during.sink, 0.5);
  assert.equal(g.cause, 'host-late');
  close(m.copyThroughput.wall, 4000 / 0.01);
  close(m.copyThroughput.busy, 4000 / 0.004);
});

test('copy-bound depth-2 timeline: ring-full gaps of known length, copy is the bottleneck', () => {
  const tl = copyBoundTimeline(8);
  const m = computeMetrics(stats(tl), { pinnedPeak: 1e6 });
  // Copies run back to back from 0.5: wall = 0.5 + 8 + the last host stage 0.1.
  close(m.wallMs, 8.6);
  close(m.busyMs.copy, 8);
  close(m.busyMs.compute, 4);
  assert.equal(m.bottleneck, 'copy');
  close(m.efficiency, 8 / 8.6);
  // Kernels 2..7 each start when copy n − 2 ends; gaps: 1.0→1.5, then 0.5 between each later pair.
  const gaps = computeGaps(tl);
  assert.equal(gaps.length, 6);
  for (const g of gaps) {
    close(g.ms, 0.5);
    assert.equal(g.cause, 'ring-full');
    close(g.during.copy, 0.5);
  }
  assert.deepEqual(
    gaps.map((g) => [g.afterChunk, g.beforeChunk]),
    [
      [1, 2],
      [2, 3],
      [3, 4],
      [4, 5],
      [5, 6],
      [6, 7],
    ],
  );
  close(m.copyThroughput.ofPeak, 8000 / 0.0086 / 1e6);
});

test("4 pinned slots over 2 device slots, copy-bound: kernel n waits for D2H(n − 2), the device slot's previous user", () => {
  // Kernels 0.5, copies 1, all enqueued up front; barrier 1 is keyed on the device slot (n mod 2),
  // not on the pinned one (n mod 4): a cause read off n − depth would call these gaps launch latency.
  const tl: ChunkTiming[] = [];
  let copyFree = 0;
  let computeFree = 0;
  for (let i = 0; i < 12; i++) {
    const cs = Math.max(computeFree, i >= 2 ? tl[i - 2]!.copy[1] : 0);
    computeFree = cs + 0.5;
    const ps = Math.max(computeFree, copyFree);
    copyFree = ps + 1;
    tl.push({
      index: i,
      slot: i % 4,
      deviceSlot: i % 2,
      compute: [cs, cs + 0.5],
      copy: [ps, ps + 1],
      sink: [ps + 1, ps + 1.1],
      enqueuedCompute: 0,
      enqueuedCopy: 0,
    });
  }
  const gaps = computeGaps(tl);
  assert.equal(gaps.length, 10);
  for (const g of gaps) assert.equal(g.cause, 'ring-full', `gap before chunk ${g.beforeChunk}`);
  const m = computeMetrics(stats(tl, { depth: 4, deviceSlots: 2 }));
  close(m.gaps.byCause['ring-full'], m.gaps.totalMs);
});

test("a slow host stage: the kernel is enqueued late because its slot's previous D2H waited for a pinned slot", () => {
  // Depth 2, one ring; kernels and copies 0.2, host stage 2 (one at a time). compute(n) is enqueued
  // once D2H(n − 2) is (barrier 1 needs its record), and D2H(n − 2) once the host stage released
  // chunk n − 4 (barrier 3): the host was not slow, the host stage held the ring.
  const tl: ChunkTiming[] = [];
  for (let i = 0; i < 10; i++) {
    const enqC = Math.max(i >= 1 ? tl[i - 1]!.enqueuedCompute : 0, i >= 2 ? tl[i - 2]!.enqueuedCopy : 0);
    const enqP = Math.max(enqC, i >= 2 ? tl[i - 2]!.sink[1] : 0);
    const cs = Math.max(enqC, i >= 1 ? tl[i - 1]!.compute[1] : 0, i >= 2 ? tl[i - 2]!.copy[1] : 0);
    const ps = Math.max(cs + 0.2, i >= 1 ? tl[i - 1]!.copy[1] : 0, enqP);
    const ss = Math.max(ps + 0.2, i >= 1 ? tl[i - 1]!.sink[1] : 0);
    tl.push({
      index: i,
      slot: i % 2,
      compute: [cs, cs + 0.2],
      copy: [ps, ps + 0.2],
      sink: [ss, ss + 2],
      enqueuedCompute: enqC,
      enqueuedCopy: enqP,
    });
  }
  const gaps = computeGaps(tl);
  assert.ok(gaps.length >= 6, `${gaps.length} gaps`);
  for (const g of gaps) assert.equal(g.cause, 'host-stage', `gap before chunk ${g.beforeChunk}`);
  // The same kernel enqueued late with its slot's D2H enqueued in time is the host's own lateness.
  const late = tl.map((c) => ({
    ...c,
    enqueuedCopy: Math.min(c.enqueuedCopy, c.copy[0]),
    sink: [c.copy[1], c.copy[1] + 0.01] as [number, number],
  }));
  const lateGaps = computeGaps(late);
  assert.equal(lateGaps.length, gaps.length);
  for (const g of lateGaps) assert.equal(g.cause, 'host-late', `gap before chunk ${g.beforeChunk}`);
  // So is a host stage that was short but started late: the host noticed D2H(p) late.
  const noticedLate = tl.map((c) => ({ ...c, sink: [c.sink[1] - 0.01, c.sink[1]] as [number, number] }));
  const noticedGaps = computeGaps(noticedLate);
  assert.equal(noticedGaps.length, gaps.length);
  for (const g of noticedGaps) assert.equal(g.cause, 'host-late', `gap before chunk ${g.beforeChunk}`);
  // And a pinned slot still being copied into is the copy engine's: ring-full.
  const copyBehind = tl.map((c) => ({
    ...c,
    copy: [c.copy[0], c.sink[1] - 0.01] as [number, number],
    sink: [c.sink[1] - 0.01, c.sink[1]] as [number, number],
  }));
  const copyGaps = computeGaps(copyBehind);
  assert.equal(copyGaps.length, gaps.length);
  for (const g of copyGaps) assert.equal(g.cause, 'ring-full', `gap before chunk ${g.beforeChunk}`);
});

test('a gap the kernel spent waiting for its upload is attributed to the upload', () => {
  const tl: ChunkTiming[] = [
    {
      index: 0,
      slot: 0,
      upload: [0, 1],
      compute: [1, 2],
      copy: [2, 3],
      sink: [3, 3.1],
      enqueuedCompute: 0,
      enqueuedCopy: 0,
    },
    {
      index: 1,
      slot: 1,
      upload: [1, 3],
      compute: [3, 4],
      copy: [4, 5],
      sink: [5, 5.1],
      enqueuedCompute: 0,
      enqueuedCopy: 0,
    },
  ];
  const m = computeMetrics(stats(tl, { bytesIn: 2000 }));
  assert.equal(m.gaps.count, 1);
  assert.equal(m.gaps.largest[0]!.cause, 'upload');
  close(m.gaps.largest[0]!.during.upload, 1);
  close(m.busyMs.upload, 3);
  assert.equal(m.bottleneck, 'upload');
});

test('a kernel enqueued early that still started late, with nothing to wait for, is launch latency', () => {
  const tl: ChunkTiming[] = [
    { index: 0, slot: 0, compute: [0, 1], copy: [1, 1.2], sink: [1.2, 1.3], enqueuedCompute: 0, enqueuedCopy: 0 },
    { index: 1, slot: 1, compute: [1.05, 2], copy: [2, 2.2], sink: [2.2, 2.3], enqueuedCompute: 0, enqueuedCopy: 0 },
  ];
  const gaps = computeGaps(tl);
  assert.equal(gaps.length, 1);
  assert.equal(gaps[0]!.cause, 'launch');
  // Below the noise floor nothing is reported.
  assert.equal(computeGaps(tl, 0.1).length, 0);
});

test('without a timeline the stats sums are used and unknown GPU busy gives null efficiency', () => {
  const s = stats([], { timeline: undefined, wallMs: 10, chunks: 4, bytesOut: 4000 });
  const m = computeMetrics(s);
  assert.equal(m.source, 'stats');
  assert.equal(m.efficiency, null);
  assert.equal(m.kernelUtilization.strict, null);
  assert.equal(m.gaps.count, 0);
  const known = computeMetrics({
    ...s,
    stages: { upload: { busyMs: null }, compute: { busyMs: 6 }, copy: { busyMs: 9 }, sink: { busyMs: 1 } },
  });
  close(known.efficiency, 0.9);
  assert.equal(known.bottleneck, 'copy');
  close(known.kernelUtilization.whole, 0.6);
});

test('trace cost per chunk and efficiency against stages alone', () => {
  close(traceCostPerChunkMs({ wallMs: 100, chunks: 50 }, { wallMs: 100.45, chunks: 50 }), 0.009);
  assert.equal(traceCostPerChunkMs({ wallMs: 100, chunks: 50 }, { wallMs: 101, chunks: 49 }), null);
  close(efficiencyAgainstAlone(10, [9, 4]), 0.9);
  assert.equal(efficiencyAgainstAlone(10, [null, undefined]), null);
});
