// `tandem render` end to end through the built CLI (node bin/tandem.js) on the fake device, with
// the real ffmpeg: an mp4 with the right frame count, PNG and raw outputs, option errors, and
// Ctrl-C leaving a playable partial mp4 with exit code 130.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderFractalFrame } from '../src/workloads/fractal.js';
import { frameBytes } from '../src/formats/frame-format.js';
import { formatBytes } from '../src/util/format.js';
import { probeVideo } from './video-helpers.js';

// dist/test/x.js or test/x.ts: the repository root is where package.json is.
function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d;
}
const ROOT = repoRoot();
const BIN = join(ROOT, 'bin', 'tandem.js');
const built = existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'));
const haveFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0 && spawnSync('ffprobe', ['-version']).status === 0;
const skipCli = built ? false : 'the CLI is not built (npm run build)';
const skipFfmpeg = skipCli || (haveFfmpeg ? false : 'ffmpeg/ffprobe not installed (apt-get install ffmpeg)');

function tandem(args: string[], cwd: string) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
}

const tmp = () => mkdtemp(join(tmpdir(), 'tandem-render-'));

test('tandem render --fake → mp4 that ffprobe reads with the right frame count', { skip: skipFfmpeg }, async () => {
  const dir = await tmp();
  try {
    const r = tandem(
      [
        'render',
        '--fake',
        '--workload',
        'fractal',
        '--size',
        '96x54',
        '--frames',
        '23',
        '--cost',
        '0.25',
        '--out',
        'zoom.mp4',
      ],
      dir,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '', 'nothing on stdout: progress and summary go to stderr');
    assert.match(r.stderr, /tandem render done: fractal 96x54 yuv420p, 23\/23 frames/);
    assert.equal(probeVideo(join(dir, 'zoom.mp4')).frames, 23);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('tandem render --fake → PNG sequence and raw file with the reference bytes', { skip: skipCli }, async () => {
  const dir = await tmp();
  try {
    let r = tandem(
      [
        'render',
        '--fake',
        '--size',
        '32x18',
        '--frames',
        '5',
        '--frames-per-chunk',
        '2',
        '--cost',
        '0.25',
        '--format',
        'rgba',
        '--out',
        'frames/',
      ],
      dir,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((await readdir(join(dir, 'frames'))).sort(), [
      'frame_000001.png',
      'frame_000002.png',
      'frame_000003.png',
      'frame_000004.png',
      'frame_000005.png',
    ]);
    r = tandem(
      [
        'render',
        '--fake',
        '--size',
        '32x18',
        '--frames',
        '5',
        '--frames-per-chunk',
        '2',
        '--cost',
        '0.25',
        '--out',
        'v.yuv',
        '--mode',
        'serial',
      ],
      dir,
    );
    assert.equal(r.status, 0, r.stderr);
    const raw = await readFile(join(dir, 'v.yuv'));
    const fmt = { width: 32, height: 18, pixelFormat: 'yuv420p' as const };
    assert.equal(raw.length, 5 * frameBytes(fmt));
    for (let f = 0; f < 5; f++) {
      assert.ok(
        raw.subarray(f * frameBytes(fmt), (f + 1) * frameBytes(fmt)).equals(renderFractalFrame(fmt, f, 0.25)),
        `frame ${f}`,
      );
    }
    // A ring of 4 pinned slots over 2 device buffers writes the same bytes, and the summary says so.
    r = tandem(
      [
        'render',
        '--fake',
        '--size',
        '32x18',
        '--frames',
        '5',
        '--frames-per-chunk',
        '1',
        '--cost',
        '0.25',
        '--out',
        'w.yuv',
        '--depth',
        '4',
        '--device-slots',
        '2',
      ],
      dir,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /pipeline {5}overlap, depth 4 \(2 on the device\)/);
    assert.ok((await readFile(join(dir, 'w.yuv'))).equals(raw), 'the same frames through 2 device slots');
    // The same frames as data on stdout, and the HTML report of the (traced) run.
    const out = spawnSync(
      process.execPath,
      [
        BIN,
        'render',
        '--fake',
        '--size',
        '32x18',
        '--frames',
        '5',
        '--frames-per-chunk',
        '2',
        '--cost',
        '0.25',
        '--out',
        'pipe:',
        '--report',
        'r.html',
      ],
      { cwd: dir, timeout: 120_000 },
    );
    assert.equal(out.status, 0, String(out.stderr));
    assert.ok(Buffer.from(out.stdout).equals(raw), 'stdout carries exactly the raw frames');
    const html = await readFile(join(dir, 'r.html'), 'utf8');
    assert.match(html, /<title>tandem render: fractal 32x18 yuv420p/);
    assert.match(html, /"schema":"tandem-results\/1"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('tandem render: bad options are one clear line and exit code 2', { skip: skipCli }, async () => {
  const dir = await tmp();
  try {
    const cases: [string[], RegExp][] = [
      [['--size', '1920by1080', '--out', 'x.mp4'], /--size '1920by1080' is not WIDTHxHEIGHT; write it like 1920x1080/],
      [['--workload', 'nope', '--out', 'x.mp4'], /unknown workload 'nope': choose one of fractal, decoder, synthetic/],
      [['--frames', '0', '--out', 'x.mp4'], /--frames must be a whole number ≥ 1, got '0'/],
      [['--frames', '10'], /give --out/],
      [['--format', 'nv12', '--out', 'x.mp4'], /--format 'nv12' is not supported: use rgba or yuv420p/],
      [['--size', '33x17', '--out', 'x.mp4'], /yuv420p needs an even width and height/],
      [['--out', 'noext'], /has no extension/],
      [
        ['--out', 'missing-dir/x.raw', '--frames', '1', '--size', '16x16'],
        /output directory .*missing-dir does not exist/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = tandem(['render', '--fake', ...args], dir);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('Ctrl-C: tandem render stops, leaves a playable partial mp4 and exits 130', { skip: skipFfmpeg }, async () => {
  const dir = await tmp();
  try {
    const child = spawn(
      process.execPath,
      [
        BIN,
        'render',
        '--fake',
        '--workload',
        'fractal',
        '--size',
        '96x54',
        '--frames',
        '100000',
        '--cost',
        '0.25',
        '--out',
        'part.mp4',
      ],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => (stderr += s));
    let exited = false;
    const closed = new Promise<number | null>((r) =>
      child.on('close', (c) => {
        exited = true;
        r(c);
      }),
    );
    // Wait until frames are flowing: the mp4, under its temporary name until the run ends, has grown past its header.
    const path = join(dir, 'part.partial.mp4');
    for (let i = 0; i < 300 && !exited; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const temp = (await readdir(dir)).find((n) => n.startsWith('.part.tandem-'));
      const size = temp
        ? await stat(join(dir, temp)).then(
            (s) => s.size,
            () => 0,
          )
        : 0;
      if (size > 20_000) break;
    }
    assert.ok(!exited, `tandem render ended before the interrupt: ${stderr.slice(-2000)}`);
    child.kill('SIGINT');
    // It must stop by itself; a SIGKILL after 60 s turns a hang into a failure, not a stuck suite.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await closed;
    clearTimeout(timer);
    assert.equal(code, 130, `did not stop cleanly after SIGINT: ${stderr.slice(-2000)}`);
    assert.match(stderr, /tandem render interrupted \(SIGINT\): fractal 96x54 yuv420p, \d+\/100000 frames/);
    assert.match(stderr, /part\.partial\.mp4 \(partial, finalised by ffmpeg: playable\)/);
    assert.deepEqual(await readdir(dir), ['part.partial.mp4'], 'only the partial file: no final name, no temporary');
    const frames = probeVideo(path).frames;
    assert.ok(frames > 0 && frames < 100000, `partial mp4 has ${frames} frames`);
    const m = /, (\d+)\/100000 frames/.exec(stderr);
    assert.equal(frames, Number(m![1]), 'every frame the summary counts is in the file');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(
  'the summary: the output size is the file on disk (not the bytes sent to ffmpeg), and only the summary names the bottleneck',
  { skip: skipFfmpeg },
  async () => {
    const dir = await tmp();
    try {
      const r = tandem(['render', '--fake', '--size', '64x48', '--frames', '48', '--out', 'z.mp4'], dir);
      assert.equal(r.status, 0, r.stderr);
      const size = (await stat(join(dir, 'z.mp4'))).size;
      const m = /^ {2}output {7}(.*): (.*) on disk; 48 frames, (.*) sent to ffmpeg$/m.exec(r.stderr);
      assert.ok(m, r.stderr);
      assert.equal(m[1], join(dir, 'z.mp4'));
      assert.equal(m[2], formatBytes(size), `the file is ${size} bytes`);
      assert.equal(m[3], formatBytes(48 * 64 * 48 * 1.5));
      // The last progress line (stderr is not a terminal: one line per update) leaves the bottleneck to the summary.
      const progress = r.stderr.split('\n').filter((l) => l.startsWith('tandem render: '));
      assert.ok(progress.length > 0);
      assert.doesNotMatch(progress.at(-1)!, /bottleneck/);
      assert.equal(r.stderr.match(/^ {2}bottleneck/gm)?.length, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
