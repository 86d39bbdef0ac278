// The Chrome/Perfetto trace: structure a viewer needs (named tracks, complete spans, every flow
// start matched by a finish that binds to a later slice), written as valid JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ChunkTiming } from '../src/pipeline/types.js';
import { buildTrace, TRACKS, writeTrace, type TraceEvent } from '../src/profile/trace.js';

function timeline(n: number, uploads: boolean): ChunkTiming[] {
  const out: ChunkTiming[] = [];
  for (let i = 0; i < n; i++) {
    const t = 1000 + i * 1.0;
    out.push({
      index: i,
      slot: i % 2,
      ...(uploads ? { upload: [t - 0.5, t] as [number, number] } : {}),
      compute: [t, t + 0.9],
      copy: [t + 0.9, t + 1.8],
      sink: [t + 1.8, t + 1.9],
      enqueuedCompute: t - 0.6,
      enqueuedCopy: t - 0.5,
    });
  }
  return out;
}

function checkStructure(events: TraceEvent[]): void {
  const named = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => `${e.pid}:${e.tid}`));
  const procs = new Set(events.filter((e) => e.ph === 'M' && e.name === 'process_name').map((e) => e.pid));
  for (const e of events) {
    assert.ok(['X', 'M', 's', 'f', 'C', 'i'].includes(e.ph), `unknown phase ${e.ph}`);
    assert.ok(procs.has(e.pid), `pid ${e.pid} has no process_name`);
    if (e.ph === 'X') {
      assert.ok(named.has(`${e.pid}:${e.tid}`), `span on unnamed track ${e.pid}:${e.tid}`);
      assert.ok(typeof e.ts === 'number' && e.ts >= 0, 'span ts');
      assert.ok(typeof e.dur === 'number' && e.dur >= 0, 'span dur');
    }
  }
  const starts = new Map<number, TraceEvent>();
  const finishes = new Map<number, TraceEvent>();
  for (const e of events) {
    if (e.ph === 's') starts.set(e.id!, e);
    if (e.ph === 'f') finishes.set(e.id!, e);
  }
  assert.ok(starts.size > 0, 'flows present');
  assert.equal(finishes.size, starts.size, 'every flow start has a finish');
  const spans = events.filter((e) => e.ph === 'X');
  const enclosing = (e: TraceEvent) =>
    spans.find((x) => x.pid === e.pid && x.tid === e.tid && x.ts! <= e.ts! && e.ts! <= x.ts! + x.dur!);
  for (const [id, s] of starts) {
    const f = finishes.get(id);
    assert.ok(f, `flow ${id} has no finish`);
    assert.equal(f.bp, 'e');
    assert.equal(f.name, s.name);
    assert.equal(f.cat, s.cat);
    assert.ok(f.ts! >= s.ts!, `flow ${id} goes back in time`);
    assert.ok(enclosing(s), `flow start ${id} binds to no slice`);
    assert.ok(enclosing(f), `flow finish ${id} binds to no slice`);
    assert.notEqual(f.tid, s.tid, 'a flow links two tracks');
  }
}

test('one run: a named track per stream and the host stage, spans for every stage, flows chunk by chunk', () => {
  const doc = buildTrace([{ label: 'overlap depth 2', timeline: timeline(6, false) }]);
  checkStructure(doc.traceEvents);
  const threadNames = doc.traceEvents.filter((e) => e.name === 'thread_name').map((e) => e.args!.name);
  assert.deepEqual(threadNames, ['compute stream', 'copy stream (D2H)', 'host stage', 'compute idle gaps']);
  const spans = doc.traceEvents.filter((e) => e.ph === 'X' && e.cat !== 'gap');
  assert.equal(spans.length, 6 * 3);
  assert.equal(doc.traceEvents.filter((e) => e.ph === 's').length, 6 * 2);
  const c3 = spans.find((e) => e.name === 'compute #3')!;
  assert.equal(c3.tid, TRACKS.compute);
  // The first instant (chunk 0's enqueue at 999.4 ms) is the origin; µs from there.
  assert.ok(Math.abs(c3.ts! - 3600) < 1e-6);
  assert.equal(c3.dur, 900);
  assert.equal(c3.args!.slot, 1);
  assert.equal(doc.traceEvents.find((e) => e.name === 'process_name')!.args!.name, 'overlap depth 2');
});

test('several runs with uploads, gaps and NVML samples, written to a file that parses back', async () => {
  const serial: ChunkTiming[] = timeline(4, true).map((c, i) => {
    const t = 1000 + i * 3;
    return {
      ...c,
      upload: [t, t + 0.5],
      compute: [t + 0.5, t + 1.4],
      copy: [t + 1.4, t + 2.3],
      sink: [t + 2.3, t + 2.4],
      enqueuedCompute: t + 0.5,
      enqueuedCopy: t + 1.4,
    };
  });
  const doc = buildTrace(
    [
      {
        label: 'serial',
        timeline: serial,
        utilization: [
          { t: 1001, gpu: 40 },
          { t: 1005, gpu: 45 },
        ],
      },
      { label: 'overlap', timeline: timeline(10, true), maxChunks: 5 },
    ],
    { device: 'test' },
  );
  checkStructure(doc.traceEvents);
  assert.equal(new Set(doc.traceEvents.map((e) => e.pid)).size, 2);
  const gaps = doc.traceEvents.filter((e) => e.cat === 'gap' && e.pid === 1);
  assert.equal(gaps.length, 3, 'serial leaves the compute engine idle between chunks');
  assert.equal(gaps[0]!.name, 'idle: host-late');
  assert.equal(doc.traceEvents.filter((e) => e.ph === 'C').length, 2);
  assert.equal(
    doc.traceEvents.filter((e) => e.pid === 2 && e.ph === 'X' && e.cat === 'compute').length,
    5,
    'maxChunks keeps the first chunks',
  );
  assert.ok(doc.traceEvents.some((e) => e.name === 'thread_name' && e.args!.name === 'upload stream (H2D)'));

  const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-trace-'));
  try {
    const file = path.join(dir, 'trace.json');
    await writeTrace(file, serial, { label: 'serial', depth: 1, device: 'test' });
    const parsed = JSON.parse(await readFile(file, 'utf8')) as {
      traceEvents: TraceEvent[];
      metadata: Record<string, unknown>;
    };
    checkStructure(parsed.traceEvents);
    assert.equal(parsed.metadata.device, 'test');
    assert.equal(parsed.metadata.generator, 'tandem');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
