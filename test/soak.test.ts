// Soak on the fake device: 100,000 small chunks through one pipeline, then 200 short runs on the
// same device. The V8 heap after a full GC, resident memory, pinned memory and the device's
// memoryInfo() must be flat from the warmed-up start to the end. Prints the figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createPipeline } from '../src/pipeline/index.js';
import { FakeDevice } from '../src/testing/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MiB = 1024 * 1024;

interface Sample {
  at: string;
  heapMiB: number;
  rssMiB: number;
  pinnedBytes: number;
  deviceFree: number;
}

function sample(fake: FakeDevice, at: string): Sample {
  gc();
  gc();
  const m = process.memoryUsage();
  return {
    at,
    heapMiB: m.heapUsed / MiB,
    rssMiB: m.rss / MiB,
    pinnedBytes: fake.liveResources().pinnedBytes,
    deviceFree: fake.memoryInfo().free,
  };
}

test('soak: 100,000 chunks then 200 short runs, memory flat', { timeout: 180_000 }, async () => {
  const CHUNKS = 100_000;
  const fake = new FakeDevice();
  fake.defineKernel(
    'stamp',
    ['pointer', 'u32'],
    (_c, out, n) =>
      new DataView((out as Uint8Array).buffer, (out as Uint8Array).byteOffset).setUint32(0, Number(n), true),
    0.01,
  );
  const stamp = fake.compile('', { kernels: { stamp: ['pointer', 'u32'] } }).getKernel('stamp');
  const base = fake.liveResources();
  const freeAtStart = fake.memoryInfo().free;
  const samples: Sample[] = [];
  let bad = 0;
  let next = 0;
  const make = () =>
    createPipeline(fake, {
      outputBytes: 64,
      depth: 3,
      compute: (c) => stamp.launch(c.stream, { grid: 1, block: 1 }, c.output, c.index),
      sink: (c) => {
        if (new DataView(c.data.buffer, c.data.byteOffset).getUint32(0, true) !== c.index || c.index !== next) bad++;
        next = c.index + 1;
        if (c.index === 5_000 || c.index === 50_000 || c.index === CHUNKS - 1)
          samples.push(sample(fake, `chunk ${c.index}`));
      },
    });
  const t0 = performance.now();
  const long = make();
  const stats = await long.run(CHUNKS);
  long.close();
  const longS = (performance.now() - t0) / 1000;
  samples.push(sample(fake, 'after the long run'));
  for (let r = 0; r < 200; r++) {
    next = 0;
    const p = make();
    await p.run(25);
    p.close();
  }
  samples.push(sample(fake, 'after 200 short runs'));

  console.error(`  ${CHUNKS} chunks in ${longS.toFixed(1)} s (${Math.round(CHUNKS / longS)} chunks/s), then 200 × 25`);
  for (const s of samples) {
    console.error(
      `  ${s.at.padEnd(22)} heap ${s.heapMiB.toFixed(1).padStart(6)} MiB  rss ${s.rssMiB.toFixed(1).padStart(6)} MiB  ` +
        `pinned ${s.pinnedBytes} B  device free ${s.deviceFree}`,
    );
  }
  assert.equal(stats.chunks, CHUNKS);
  assert.equal(bad, 0, 'every chunk in order with its own data');
  const warm = samples[0]!;
  const lastChunk = samples[2]!;
  const end = samples[samples.length - 1]!;
  // A leak of even 100 bytes a chunk would add ~10 MiB over the run: compare inside the run
  // (what a long render holds) and after it.
  assert.ok(
    lastChunk.heapMiB - warm.heapMiB < 8,
    `heap flat during the run: ${warm.heapMiB.toFixed(1)} MiB at chunk 5000 → ${lastChunk.heapMiB.toFixed(1)} MiB at the last chunk`,
  );
  assert.ok(
    end.heapMiB - warm.heapMiB < 8,
    `heap flat after the runs: ${warm.heapMiB.toFixed(1)} → ${end.heapMiB.toFixed(1)} MiB`,
  );
  assert.ok(end.rssMiB - warm.rssMiB < 64, `rss flat: ${warm.rssMiB.toFixed(1)} → ${end.rssMiB.toFixed(1)} MiB`);
  // Between runs the device pool holds the ring for the next: as much after the 200 runs as
  // after the first, and nothing once trimmed.
  assert.equal(end.pinnedBytes, fake.pool.stats().bytesPinned, "the only pinned memory held is the pool's");
  assert.ok(end.pinnedBytes <= lastChunk.pinnedBytes, 'pinned memory flat across the short runs');
  fake.pool.trim();
  assert.equal(fake.memoryInfo().free, freeAtStart, 'memoryInfo() back to where it started once trimmed');
  assert.deepEqual(fake.liveResources(), base, 'no stream, event or buffer left open');
});
