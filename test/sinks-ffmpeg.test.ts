// The ffmpeg sink against the real ffmpeg (CI installs Debian's): an mp4 that ffprobe reads with
// the right frame count, exact bytes through a lossless path, and clear errors when ffmpeg is
// missing, dies mid-stream or cannot write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FfmpegNotFoundError, findFfmpeg, findFfprobe, openFfmpegSink, ffmpegArgs } from '../src/sinks/ffmpeg.js';
import { SinkError } from '../src/sinks/errors.js';
import { frameBytes, frameRanges, type FrameFormat, type FrameRange } from '../src/formats/frame-format.js';
import { renderFractalFrame } from '../src/workloads/fractal.js';
import type { OutputChunk } from '../src/pipeline/types.js';
import { probeVideo } from './video-helpers.js';

const haveFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0 && spawnSync('ffprobe', ['-version']).status === 0;
const needFfmpeg = haveFfmpeg ? false : 'ffmpeg/ffprobe not installed (apt-get install ffmpeg)';

function chunkOf(index: number, item: FrameRange, data: Uint8Array): OutputChunk<FrameRange> {
  return { index, slot: index % 2, item, data, pinned: null as never, release() {} };
}

function fractalChunks(format: FrameFormat, total: number): OutputChunk<FrameRange>[] {
  const fb = frameBytes(format);
  return [...frameRanges(total, format.framesPerChunk)].map((r, i) => {
    const data = new Uint8Array(fb * format.framesPerChunk);
    for (let k = 0; k < r.frames; k++) data.set(renderFractalFrame(format, (r.firstFrame + k) * 10, 0.25), k * fb);
    return chunkOf(i, r, data);
  });
}

const tmp = () => mkdtemp(join(tmpdir(), 'tandem-ffmpeg-'));

test('ffmpeg sink: an mp4 with the right frame count from I420 and from RGBA', { skip: needFfmpeg }, async () => {
  const dir = await tmp();
  try {
    for (const pixelFormat of ['yuv420p', 'rgba'] as const) {
      const format: FrameFormat = { width: 64, height: 36, pixelFormat, framesPerChunk: 4 };
      const path = join(dir, `${pixelFormat}.mp4`);
      const sink = await openFfmpegSink({ path, format, fps: 25 });
      const chunks = fractalChunks(format, 11);
      // Two chunks in the host stage at once: bytes still reach the pipe in chunk order.
      for (let i = 0; i < chunks.length; i += 2) await Promise.all(chunks.slice(i, i + 2).map((c) => sink.write(c)));
      const res = await sink.close();
      assert.equal(res.frames, 11);
      assert.deepEqual(probeVideo(path), { frames: 11, width: 64, height: 36, codec: 'h264' });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('ffmpeg sink: bytes arrive unchanged and in order (lossless rawvideo in .nut)', { skip: needFfmpeg }, async () => {
  const dir = await tmp();
  try {
    const format: FrameFormat = { width: 16, height: 8, pixelFormat: 'yuv420p', framesPerChunk: 3 };
    const chunks = fractalChunks(format, 7);
    const path = join(dir, 'out.nut');
    const sink = await openFfmpegSink({ path, format, outputArgs: ['-c:v', 'rawvideo'] });
    await Promise.all(chunks.map((c) => sink.write(c)));
    await sink.close();
    const back = execFileSync('ffmpeg', ['-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-'], {
      maxBuffer: 1 << 24,
    });
    const fb = frameBytes(format);
    const want = Buffer.concat(chunks.map((c) => c.data.subarray(0, (c.item as FrameRange).frames * fb)));
    assert.equal(back.length, want.length);
    assert.ok(back.equals(want), 'decoded bytes differ from what was written');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('ffmpeg missing: a clear error that says how to get it', async () => {
  assert.throws(
    () => findFfmpeg({ PATH: '/nonexistent-a:/nonexistent-b' }),
    (e: Error) => {
      assert.ok(e instanceof FfmpegNotFoundError);
      assert.match(
        e.message,
        /ffmpeg not found: looked in \/nonexistent-a, \/nonexistent-b\. Install it \(apt-get install ffmpeg\) or set TANDEM_FFMPEG/,
      );
      return true;
    },
  );
  assert.throws(
    () => findFfmpeg({ TANDEM_FFMPEG: '/no/such/ffmpeg', PATH: process.env.PATH }),
    /TANDEM_FFMPEG=\/no\/such\/ffmpeg is not an executable file/,
  );
});

test(
  'ffmpeg killed mid-stream: the write fails clearly, naming the chunk and the signal, and nothing hangs',
  { skip: needFfmpeg },
  async () => {
    const dir = await tmp();
    try {
      const format: FrameFormat = { width: 320, height: 180, pixelFormat: 'rgba', framesPerChunk: 4 };
      const sink = await openFfmpegSink({ path: join(dir, 'killed.mp4'), format });
      const data = new Uint8Array(frameBytes(format) * 4).fill(100);
      await sink.write(chunkOf(0, { firstFrame: 0, frames: 4 }, data));
      assert.ok(sink.pid);
      process.kill(sink.pid, 'SIGKILL');
      let err: unknown = null;
      for (let i = 1; i < 200 && !err; i++) {
        try {
          await sink.write(chunkOf(i, { firstFrame: i * 4, frames: 4 }, data));
        } catch (e) {
          err = e;
        }
      }
      assert.ok(err instanceof SinkError, `expected a SinkError, got ${String(err)}`);
      assert.match(
        (err as Error).message,
        /ffmpeg sink, chunk \d+: ffmpeg was killed by SIGKILL while chunk \d+ was being written/,
      );
      await sink.abort(); // must return promptly
      await assert.rejects(sink.close(), /killed by SIGKILL/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  'ffmpeg failing at start (bad option): close() reports the exit code and what ffmpeg said',
  { skip: needFfmpeg },
  async () => {
    const dir = await tmp();
    try {
      const format: FrameFormat = { width: 16, height: 8, pixelFormat: 'rgba', framesPerChunk: 1 };
      const sink = await openFfmpegSink({ path: join(dir, 'x.mp4'), format, outputArgs: ['-no-such-option', '1'] });
      // The write may fail (ffmpeg already gone) or succeed (the pipe took it); close() must fail.
      const writeErr = await sink
        .write(chunkOf(0, { firstFrame: 0, frames: 1 }, new Uint8Array(frameBytes(format))))
        .then(
          () => null,
          (x: unknown) => x,
        );
      const err = await sink.close().then(
        () => null,
        (x: unknown) => x,
      );
      if (writeErr) assert.match((writeErr as Error).message, /ffmpeg sink, chunk 0: ffmpeg exited with code/);
      assert.ok(err instanceof SinkError, String(err));
      assert.match(err.message, /ffmpeg exited with code \d+.*ffmpeg said: .*no-such-option/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('ffmpeg sink: missing output directory is caught before ffmpeg starts', async () => {
  const format: FrameFormat = { width: 16, height: 8, pixelFormat: 'rgba', framesPerChunk: 1 };
  await assert.rejects(
    openFfmpegSink({ path: '/nonexistent-dir/x.mp4', format, ffmpeg: '/bin/true' }),
    /ffmpeg sink: output directory \/nonexistent-dir does not exist/,
  );
});

test('ffmpeg command line: raw video on stdin, x264 + yuv420p for mp4, BT.709 tags', () => {
  const args = ffmpegArgs({
    path: 'a.mp4',
    format: { width: 1920, height: 1080, pixelFormat: 'yuv420p', framesPerChunk: 4 },
    fps: 60,
  });
  const s = args.join(' ');
  assert.match(s, /-f rawvideo -pix_fmt yuv420p -s 1920x1080 -r 60 .*-i pipe:0/);
  assert.match(s, /-c:v libx264 .*-pix_fmt yuv420p/);
  assert.match(s, /-colorspace bt709/);
  assert.equal(args.at(-1), 'a.mp4');
});

test('TANDEM_FFMPEG picks the executable', async () => {
  const dir = await tmp();
  try {
    const fake = join(dir, 'my-ffmpeg');
    await writeFile(fake, '#!/bin/sh\nexit 0\n');
    await chmod(fake, 0o755);
    assert.equal(findFfmpeg({ TANDEM_FFMPEG: fake, PATH: '' }), fake);
    assert.ok((await readFile(fake)).length > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** An "ffmpeg" that is a shell script: what a broken or lying encoder looks like from tandem's side. */
async function fakeFfmpeg(dir: string, body: string): Promise<string> {
  const path = join(dir, 'fake-ffmpeg');
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

test(
  'an ffmpeg that exits 0 without a valid video is a failure: no file, an empty file, a cut file, "Error writing trailer"',
  { skip: needFfmpeg },
  async () => {
    const dir = await tmp();
    try {
      const format: FrameFormat = { width: 64, height: 48, pixelFormat: 'yuv420p', framesPerChunk: 4 };
      const chunks = fractalChunks(format, 8);
      // The output path is ffmpeg's last argument.
      const last = 'for a; do out="$a"; done';
      const cases: Array<[string, string, RegExp]> = [
        ['writes nothing', 'cat >/dev/null; exit 0', /ffmpeg exited 0 but wrote no file/],
        [
          'writes an empty file',
          `${last}; cat >/dev/null; : > "$out"; exit 0`,
          /ffmpeg exited 0 but wrote an empty file/,
        ],
        [
          'writes the first 2000 bytes of a real mp4',
          `${last}; ffmpeg "$@" && head -c 2000 "$out" > "$out.cut" && mv "$out.cut" "$out"`,
          /ffprobe finds no readable video stream of the 8 sent/,
        ],
        [
          'says "Error writing trailer" and exits 0',
          `${last}; ffmpeg "$@"; echo "[mp4 @ 0x1] Error writing trailer of $out: No space left on device" >&2; exit 0`,
          /ffmpeg exited 0 but could not write the file: .*Error writing trailer/,
        ],
      ];
      for (const [what, body, re] of cases) {
        const ffmpeg = await fakeFfmpeg(dir, body);
        const path = join(dir, 'out.mp4');
        const sink = await openFfmpegSink({ path, format, ffmpeg, ffprobe: 'ffprobe' });
        for (const c of chunks) await sink.write(c);
        await assert.rejects(sink.close(), (e: Error) => {
          assert.ok(e instanceof SinkError, what);
          assert.equal(e.code, 'SINK_OUTPUT_INVALID', what);
          assert.equal(e.stage, 'sink');
          assert.match(e.message, re, what);
          assert.match(e.message, /Check the free space and the ffmpeg command, then run again/);
          return true;
        });
        const left = (await readdir(dir)).filter((n) => n.startsWith('out'));
        assert.ok(!left.includes('out.mp4'), `${what}: nothing under the final name (${left.join(', ')})`);
        await rm(join(dir, 'out.partial.mp4'), { force: true });
      }
      // The real ffmpeg through the same checks: the file is renamed to its final name and its size is reported.
      const sink = await openFfmpegSink({ path: join(dir, 'good.mp4'), format });
      for (const c of chunks) await sink.write(c);
      const result = await sink.close();
      assert.deepEqual(result.file, {
        path: join(dir, 'good.mp4'),
        bytes: (await stat(join(dir, 'good.mp4'))).size,
        complete: true,
      });
      assert.equal(probeVideo(join(dir, 'good.mp4')).frames, 8);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('ffprobe: TANDEM_FFPROBE, else next to ffmpeg, else PATH; null when there is none', async () => {
  const dir = await tmp();
  try {
    const ffmpeg = join(dir, 'ffmpeg');
    await writeFile(ffmpeg, '#!/bin/sh\n');
    await chmod(ffmpeg, 0o755);
    assert.equal(findFfprobe(ffmpeg, { PATH: '/nonexistent' }), null);
    await writeFile(join(dir, 'ffprobe'), '#!/bin/sh\n');
    await chmod(join(dir, 'ffprobe'), 0o755);
    assert.equal(findFfprobe(ffmpeg, { PATH: '/nonexistent' }), join(dir, 'ffprobe'));
    assert.equal(findFfprobe('/x/ffmpeg', { PATH: dir }), join(dir, 'ffprobe'));
    assert.equal(findFfprobe(ffmpeg, { TANDEM_FFPROBE: '/no/such/ffprobe' }), null);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
