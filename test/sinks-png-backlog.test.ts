// The PNG sink hands each pinned slot back as soon as its frames are copied out, which frees the
// pipeline's sink permit; so the sink itself must bound how many chunks wait for the encoders.
// A chunk beyond `concurrency` keeps its slot (release() not called) until one finishes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OutputChunk } from '../src/pipeline/types.js';
import { openPngSink } from '../src/sinks/png.js';

test('PNG sink: at most `concurrency` chunks are encoding; the next keeps its slot until one is written', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-png-backlog-'));
  try {
    const format = { width: 32, height: 16, pixelFormat: 'rgba' as const, framesPerChunk: 2 };
    const sink = await openPngSink({ dir: join(dir, 'out'), format, workers: 1, concurrency: 1 });
    assert.equal(sink.concurrency, 1);
    const released: number[] = [];
    const settled: number[] = [];
    const chunk = (index: number): OutputChunk<unknown> => ({
      index,
      slot: index,
      item: { firstFrame: index * 2, frames: 2 },
      data: new Uint8Array(32 * 16 * 4 * 2).fill(index * 40),
      pinned: null as never,
      release: () => void released.push(index),
    });
    const writes = [0, 1, 2].map((i) => sink.write(chunk(i)).then(() => void settled.push(i)));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(released, [0], 'only the first chunk was copied out; the others hold their slots');
    await writes[0];
    await new Promise((r) => setImmediate(r));
    assert.ok(released.includes(1), 'the second is taken once the first is written');
    assert.ok(!released.includes(2) || settled.includes(1), 'never two chunks encoding at once');
    await Promise.all(writes);
    assert.deepEqual(released, [0, 1, 2]);
    assert.deepEqual(settled, [0, 1, 2]);
    const result = await sink.close();
    assert.equal(result.frames, 6);
    assert.deepEqual((await readdir(join(dir, 'out'))).sort(), [
      'frame_000001.png',
      'frame_000002.png',
      'frame_000003.png',
      'frame_000004.png',
      'frame_000005.png',
      'frame_000006.png',
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
