// Raw and PNG sinks: exact bytes on disk, order under concurrency, and clear file-system errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { openRawSink } from '../src/sinks/raw.js';
import { openPngSink, pngFileName } from '../src/sinks/png.js';
import { decodePng, encodePng, crc32 } from '../src/sinks/png-encode.js';
import { SinkError } from '../src/sinks/errors.js';
import { i420ToRgb } from '../src/formats/color.js';
import { frameBytes, frameRanges, type FrameFormat, type FrameRange } from '../src/formats/frame-format.js';
import type { OutputChunk } from '../src/pipeline/types.js';

/** A chunk as the pipeline hands it over, over an ordinary buffer standing in for the pinned slot. */
function chunkOf(index: number, item: FrameRange, data: Uint8Array): OutputChunk<FrameRange> & { released: boolean } {
  const c = {
    index,
    slot: index % 2,
    item,
    data,
    pinned: null as never,
    released: false,
    release() {
      c.released = true;
    },
  };
  return c;
}

/** Deterministic frame bytes: frame f, byte i. */
function pattern(format: FrameFormat, totalFrames: number): Uint8Array {
  const fb = frameBytes(format);
  const out = new Uint8Array(fb * totalFrames);
  for (let f = 0; f < totalFrames; f++)
    for (let i = 0; i < fb; i++) out[f * fb + i] = (i * 7 + f * 31 + (i >> 5)) & 0xff;
  return out;
}

function chunksFor(format: FrameFormat, totalFrames: number) {
  const all = pattern(format, totalFrames);
  const fb = frameBytes(format);
  return {
    all,
    chunks: [...frameRanges(totalFrames, format.framesPerChunk)].map((r, i) => {
      const slot = new Uint8Array(fb * format.framesPerChunk).fill(0xee); // garbage past the last frame
      slot.set(all.subarray(r.firstFrame * fb, (r.firstFrame + r.frames) * fb));
      return chunkOf(i, r, slot);
    }),
  };
}

const tmp = () => mkdtemp(join(tmpdir(), 'tandem-sink-'));

test('raw sink writes exactly the frames, in order, even with chunks finishing out of order', async () => {
  const dir = await tmp();
  try {
    const format: FrameFormat = { width: 6, height: 4, pixelFormat: 'yuv420p', framesPerChunk: 3 };
    const { all, chunks } = chunksFor(format, 8); // 3 + 3 + 2 frames
    const sink = await openRawSink({ path: join(dir, 'out.raw'), format });
    // All three in the host stage at once, the last one first.
    await Promise.all([...chunks].reverse().map((c) => sink.write(c)));
    const res = await sink.close();
    await sink.close(); // idempotent
    assert.deepEqual(await readFile(join(dir, 'out.raw')), Buffer.from(all));
    assert.equal(res.frames, 8);
    assert.equal(res.bytes, all.byteLength);
    assert.equal(res.chunks, 3);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('raw sink, one file per chunk', async () => {
  const dir = await tmp();
  try {
    const format: FrameFormat = { width: 4, height: 2, pixelFormat: 'rgba', framesPerChunk: 2 };
    const { all, chunks } = chunksFor(format, 3);
    const sink = await openRawSink({ path: dir, perChunk: true, format });
    for (const c of chunks) await sink.write(c);
    await sink.close();
    assert.deepEqual((await readdir(dir)).sort(), ['chunk_000000.raw', 'chunk_000001.raw']);
    const fb = frameBytes(format);
    assert.deepEqual(await readFile(join(dir, 'chunk_000000.raw')), Buffer.from(all.subarray(0, 2 * fb)));
    assert.deepEqual(await readFile(join(dir, 'chunk_000001.raw')), Buffer.from(all.subarray(2 * fb, 3 * fb)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('raw sink: missing directory, a file in the way, and a full disk are clear errors naming the chunk', async () => {
  const dir = await tmp();
  try {
    await assert.rejects(openRawSink({ path: join(dir, 'nope', 'out.raw') }), (e: Error) => {
      assert.ok(e instanceof SinkError);
      assert.match(e.message, /raw sink: output directory .*nope does not exist: create it \(mkdir -p/);
      return true;
    });
    await writeFile(join(dir, 'file'), 'x');
    await assert.rejects(openRawSink({ path: join(dir, 'file', 'out.raw') }), /is not a directory/);
    // /dev/full answers every write with ENOSPC, as a full disk does.
    const sink = await openRawSink({ path: '/dev/full' });
    await assert.rejects(sink.write(chunkOf(4, { firstFrame: 0, frames: 1 }, new Uint8Array(4096))), (e: Error) => {
      assert.ok(e instanceof SinkError);
      assert.equal(e.chunkIndex, 4);
      assert.match(e.message, /raw sink, chunk 4: the disk is full \(ENOSPC writing \/dev\/full\)/);
      return true;
    });
    await sink.abort();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Root passes permission checks, but not on /proc/sys; elsewhere a chmod 500 directory does. */
function unwritableDirSkip(): string | false {
  if (process.getuid?.() !== 0) return false;
  try {
    accessSync('/proc/sys', fsConstants.W_OK);
    return 'running as root with a writable /proc/sys: no directory here refuses root';
  } catch {
    return false;
  }
}

test('raw sink: a directory that is not writable', { skip: unwritableDirSkip() }, async () => {
  const { chmod } = await import('node:fs/promises');
  const root = process.getuid?.() === 0;
  const dir = root ? '/proc/sys' : await tmp();
  try {
    if (!root) await chmod(dir, 0o500);
    await assert.rejects(
      openRawSink({ path: join(dir, 'out.raw') }),
      /raw sink: output directory .* is not writable \((EACCES|EPERM|EROFS)\)/,
    );
  } finally {
    if (!root) {
      await chmod(dir, 0o700);
      await rm(dir, { recursive: true, force: true });
    }
  }
});

test('PNG encoder: CRC32 of the check string, and an encode/decode round trip', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  const pixels = new Uint8Array(5 * 3 * 4).map((_, i) => (i * 37) & 0xff);
  const back = decodePng(encodePng({ width: 5, height: 3, channels: 4, pixels }));
  assert.deepEqual([back.width, back.height, back.channels], [5, 3, 4]);
  assert.deepEqual(back.pixels, pixels);
});

test('PNG sink: frames come out as frame_000001.png … with the exact pixels, in order, on worker threads', async () => {
  const dir = await tmp();
  try {
    for (const pixelFormat of ['rgba', 'yuv420p'] as const) {
      const out = join(dir, pixelFormat);
      const format: FrameFormat = { width: 10, height: 6, pixelFormat, framesPerChunk: 4 };
      const { all, chunks } = chunksFor(format, 10);
      const sink = await openPngSink({ dir: out, format, workers: 2 });
      assert.ok(sink.concurrency >= 2);
      await Promise.all(chunks.map((c) => sink.write(c)));
      assert.ok(
        chunks.every((c) => c.released),
        'the pinned slot is handed back once the frames are copied out',
      );
      const res = await sink.close();
      assert.equal(res.frames, 10);
      const names = (await readdir(out)).sort();
      assert.deepEqual(
        names,
        Array.from({ length: 10 }, (_, f) => pngFileName(f)),
      );
      assert.equal(names[0], 'frame_000001.png');
      const fb = frameBytes(format);
      for (let f = 0; f < 10; f++) {
        const img = decodePng(await readFile(join(out, names[f]!)));
        const src = all.subarray(f * fb, (f + 1) * fb);
        const want = pixelFormat === 'rgba' ? src : i420ToRgb(src, 10, 6);
        assert.equal(img.channels, pixelFormat === 'rgba' ? 4 : 3);
        assert.deepEqual(img.pixels, want, `frame ${f} (${pixelFormat})`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('PNG sink: a missing parent directory is a clear error', async () => {
  const dir = await tmp();
  try {
    const format: FrameFormat = { width: 4, height: 4, pixelFormat: 'rgba', framesPerChunk: 1 };
    await assert.rejects(
      openPngSink({ dir: join(dir, 'a', 'b'), format }),
      /png sink: cannot create .*b: its parent .*a does not exist/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(
  'raw sink: a file-size limit (EFBIG) is a clear error naming the chunk',
  {
    skip: import.meta.url.endsWith('.js')
      ? spawnSync('bash', ['-c', 'ulimit -f 1']).status === 0
        ? false
        : 'bash ulimit unavailable'
      : 'needs the compiled sink (npm test runs it from dist/)',
  },
  async () => {
    const dir = await tmp();
    try {
      // Node ignores SIGXFSZ, so a write past `ulimit -f` fails with EFBIG instead of killing it.
      const raw = new URL('../src/sinks/raw.js', import.meta.url).href;
      const script = `
      const { openRawSink } = await import(${JSON.stringify(raw)});
      const sink = await openRawSink({ path: ${JSON.stringify(join(dir, 'big.raw'))} });
      const data = new Uint8Array(64 * 1024);
      try {
        await sink.write({ index: 3, slot: 1, item: 3, data, pinned: null, release() {} });
        console.log('no error');
      } catch (e) { console.log(e.message); }
      await sink.abort();`;
      const r = spawnSync(
        'bash',
        ['-c', `ulimit -f 8; exec "${process.execPath}" --input-type=module -e "$0"`, script],
        { encoding: 'utf8', timeout: 30_000 },
      );
      assert.match(r.stdout, /raw sink, chunk 3: file too large \(EFBIG writing .*big\.raw\)/, r.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('file sinks publish atomically: nothing under the final name until close(); abort() keeps a .partial; an empty run keeps nothing', async () => {
  const dir = await tmp();
  try {
    const format: FrameFormat = { width: 8, height: 4, pixelFormat: 'rgba', framesPerChunk: 2 };
    const data = pattern(format, 4);
    const fb = frameBytes(format);
    const chunk = (i: number) => chunkOf(i, { firstFrame: i * 2, frames: 2 }, data.slice(i * 2 * fb, (i + 1) * 2 * fb));

    const raw = await openRawSink({ path: join(dir, 'a.raw'), format });
    await raw.write(chunk(0));
    assert.deepEqual(
      (await readdir(dir)).filter((n) => !n.startsWith('.a.tandem-')),
      [],
      'only the temporary',
    );
    await raw.write(chunk(1));
    const done = await raw.close();
    assert.deepEqual(await readdir(dir), ['a.raw']);
    assert.deepEqual(done.file, { path: join(dir, 'a.raw'), bytes: 4 * fb, complete: true });

    const cut = await openRawSink({ path: join(dir, 'a.raw'), format });
    await cut.write(chunk(0));
    await cut.abort(new Error('stop'));
    assert.deepEqual((await readdir(dir)).sort(), ['a.partial.raw', 'a.raw'], 'the complete file is untouched');
    assert.deepEqual(await readFile(join(dir, 'a.partial.raw')), Buffer.from(data.subarray(0, 2 * fb)));
    assert.deepEqual(cut.stats().file, { path: join(dir, 'a.partial.raw'), bytes: 2 * fb, complete: false });

    const empty = await openRawSink({ path: join(dir, 'b.raw'), format });
    await empty.abort();
    assert.ok(!(await readdir(dir)).some((n) => n.includes('b.')), 'nothing kept from an empty run');

    const png = await openPngSink({ dir: join(dir, 'frames'), format, workers: 1 });
    await png.write(chunk(0));
    await png.abort();
    assert.deepEqual(await readdir(join(dir, 'frames')), ['partial']);
    assert.deepEqual((await readdir(join(dir, 'frames', 'partial'))).sort(), [pngFileName(0), pngFileName(1)]);
    const whole = await openPngSink({ dir: join(dir, 'frames'), format, workers: 1 });
    await whole.write(chunk(0));
    await whole.write(chunk(1));
    await whole.close();
    assert.deepEqual(
      (await readdir(join(dir, 'frames'))).sort(),
      [0, 1, 2, 3].map((f) => pngFileName(f)).concat('partial'),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
