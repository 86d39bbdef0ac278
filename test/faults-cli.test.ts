// The fault matrix through the built CLI, with real processes and files (`tandem render --fake`):
// file size limit (ulimit -f → EFBIG), disk full (/dev/full → ENOSPC), output directory missing
// or not writable, ffmpeg killed mid-stream, SIGINT at seeded random points (exit 130 and a
// consistent partial output), bad flags and values (exit 2 and one line that says what to change).
// Needs `npm run build` first (npm test does it): bin/tandem.js runs dist/src/cli/main.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from test/ (tsx) or dist/test/ (npm test). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const ROOT = repoRoot();
const BIN = join(ROOT, 'bin', 'tandem.js');
const built = existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'));
const skipNoBuild = built ? false : 'the CLI is not built: run npm run build';
const hasFfmpeg = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0;

// 64x48 yuv420p: 4,608 B a frame, 4 frames (18,432 B) a chunk.
const SIZE = '64x48';
const FRAME = 64 * 48 * 1.5;
const RENDER = ['render', '--fake', '--workload', 'fractal', '--size', SIZE, '--no-progress'];

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function tandem(
  args: readonly string[],
  options: { shell?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Run {
  const r = options.shell
    ? spawnSync('bash', ['-c', `${options.shell}; exec "$0" "$@"`, process.execPath, BIN, ...args], {
        encoding: 'utf8',
        env: { ...process.env, ...options.env },
        timeout: options.timeoutMs ?? 60_000,
      })
    : spawnSync(process.execPath, [BIN, ...args], {
        encoding: 'utf8',
        env: { ...process.env, ...options.env },
        timeout: options.timeoutMs ?? 60_000,
      });
  assert.ok(!r.error, `the CLI ran: ${r.error?.message}`);
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** One clear line ("tandem: …", optionally a "caused by" line), no stack trace. */
function assertClearError(r: Run, re: RegExp): void {
  assert.match(r.stderr, /^tandem: /m, r.stderr);
  assert.match(r.stderr, re);
  assert.doesNotMatch(r.stderr, /^\s+at .+:\d+:\d+\)?$/m, 'no stack trace');
  assert.doesNotMatch(r.stderr, /TypeError|ReferenceError|RangeError/);
}

let reference: Buffer | null = null;
/** The full, fault-free output of the same render: what every partial output must be a prefix of. */
function referenceOutput(frames: number): Buffer {
  if (reference && reference.length >= frames * FRAME) return reference.subarray(0, frames * FRAME);
  const dir = mkdtempSync(join(tmpdir(), 'tandem-ref-'));
  try {
    const r = tandem([...RENDER, '--frames', String(frames), '--out', join(dir, 'ref.raw')]);
    assert.equal(r.code, 0, r.stderr);
    reference = readFileSync(join(dir, 'ref.raw'));
    assert.equal(reference.length, frames * FRAME);
    return reference;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function assertPrefix(partial: Buffer, what: string): void {
  const ref = referenceOutput(64);
  assert.ok(partial.length <= ref.length, `${what}: not longer than the full output`);
  assert.ok(
    partial.equals(ref.subarray(0, partial.length)),
    `${what}: the ${partial.length} bytes written are exactly the full output's first bytes`,
  );
}

test(
  'file size limit (ulimit -f): EFBIG names the chunk and the fix; what was written is intact',
  { skip: skipNoBuild, timeout: 120_000 },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-efbig-'));
    try {
      const out = join(dir, 'x.raw');
      const r = tandem([...RENDER, '--frames', '64', '--out', out], { shell: 'ulimit -f 40' });
      assert.equal(r.code, 1, r.stderr);
      assertClearError(r, /stage 'sink' failed at chunk \d+: raw sink, chunk \d+: file too large \(EFBIG/);
      assert.match(r.stderr, /ulimit -f/);
      assert.ok(!existsSync(out), 'nothing under the final name');
      const partial = readFileSync(join(dir, 'x.partial.raw'));
      assert.ok(partial.length <= 40 * 1024);
      assertPrefix(partial, 'EFBIG');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'disk full (/dev/full): ENOSPC names chunk 0 and says to free space',
  { skip: skipNoBuild || (!existsSync('/dev/full') && 'no /dev/full'), timeout: 60_000 },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-enospc-'));
    try {
      const out = join(dir, 'full.raw');
      symlinkSync('/dev/full', out);
      const r = tandem([...RENDER, '--frames', '16', '--out', out]);
      assert.equal(r.code, 1, r.stderr);
      assertClearError(
        r,
        /stage 'sink' failed at chunk 0: .*the disk is full \(ENOSPC.*free space or write to another disk/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('output directory missing: says to create it, nothing written', { skip: skipNoBuild, timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-missing-'));
  try {
    const r = tandem([...RENDER, '--frames', '8', '--out', join(dir, 'no', 'such', 'x.raw')]);
    assert.notEqual(r.code, 0);
    assert.notEqual(r.code, null, 'exited, not killed');
    assertClearError(r, /does not exist.*mkdir -p/);
    const png = tandem([...RENDER, '--frames', '8', '--out', join(dir, 'no', 'such') + '/']);
    assert.notEqual(png.code, 0);
    assertClearError(png, /does not exist|mkdir -p/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('output directory not writable: EACCES with the path and the fix', { skip: skipNoBuild, timeout: 60_000 }, () => {
  const root = process.getuid?.() === 0;
  // As root, permission bits do not stop writes; sysfs still refuses new files.
  const dir = root ? '/sys/kernel' : mkdtempSync(join(tmpdir(), 'tandem-ro-'));
  if (!root) chmodSync(dir, 0o555);
  try {
    const r = tandem([...RENDER, '--frames', '8', '--out', join(dir, 'x.raw')]);
    assert.notEqual(r.code, 0);
    assertClearError(
      r,
      /(not writable|no permission to write).*(choose a directory you can write to|fix its permissions)/,
    );
  } finally {
    if (!root) {
      chmodSync(dir, 0o755);
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test(
  'ffmpeg killed mid-stream: a clear error naming ffmpeg and the chunk, no hang',
  { skip: skipNoBuild || (!hasFfmpeg && 'ffmpeg is not installed'), timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-ffkill-'));
    try {
      // A real ffmpeg, started through a wrapper that leaves its pid for the test to kill.
      const pidFile = join(dir, 'ffmpeg.pid');
      const wrapper = join(dir, 'ffmpeg');
      writeFileSync(wrapper, `#!/bin/sh\necho $$ > '${pidFile}'\nexec ffmpeg "$@"\n`);
      chmodSync(wrapper, 0o755);
      const child = spawn(process.execPath, [BIN, ...RENDER, '--frames', '100000', '--out', join(dir, 'x.mp4')], {
        env: { ...process.env, TANDEM_FFMPEG: wrapper },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const deadline = Date.now() + 30_000;
      while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8').trim() === '') {
        assert.ok(Date.now() < deadline, `ffmpeg never started: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 1500)); // let frames flow
      process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await exited;
      clearTimeout(timer);
      assert.equal(code, 1, `exit code 1 (stderr: ${stderr})`);
      assertClearError({ code, signal: null, stdout: '', stderr }, /ffmpeg/);
      assert.match(stderr, /chunk \d+/);
      assert.match(stderr, /SIGKILL|killed|signal|exited|EPIPE|closed/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'SIGINT at seeded random points: exit 130, and the raw output is an intact prefix of whole frames',
  { skip: skipNoBuild, timeout: 180_000 },
  async () => {
    let seed = 2024;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    referenceOutput(64);
    for (let trial = 0; trial < 5; trial++) {
      const dir = mkdtempSync(join(tmpdir(), 'tandem-sigint-'));
      try {
        const out = join(dir, 'x.raw');
        // Many frames, so the run is still going when the signal comes.
        const child = spawn(process.execPath, [BIN, ...RENDER, '--frames', '100000', '--out', out], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
        // Wait until it writes (under its temporary name), then interrupt after a random extra delay.
        const deadline = Date.now() + 30_000;
        const written = () =>
          readdirSync(dir).some((n) => n.startsWith('.x.tandem-') && statSync(join(dir, n)).size > 0);
        while (!written()) {
          assert.ok(Date.now() < deadline, `never wrote: ${stderr}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        await new Promise((r) => setTimeout(r, Math.floor(rnd() * 400)));
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        const code = await exited;
        clearTimeout(timer);
        assert.equal(code, 130, `trial ${trial}: exit 130 after SIGINT (stderr: ${stderr})`);
        assert.deepEqual(readdirSync(dir), ['x.partial.raw'], `trial ${trial}: only the partial file is left`);
        const partial = readFileSync(join(dir, 'x.partial.raw'));
        assert.equal(partial.length % FRAME, 0, `trial ${trial}: whole frames only (${partial.length} bytes)`);
        const frames = partial.length / FRAME;
        const ref = referenceOutput(Math.max(64, frames));
        assert.ok(
          partial.equals(ref.subarray(0, partial.length)),
          `trial ${trial}: the ${frames} frames written are the full run's first ${frames}`,
        );
        console.error(`  trial ${trial}: interrupted after ${frames} frames, exit ${code}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  },
);

test(
  'bad flags and values: exit 2 and one line that names the flag and what to write',
  { skip: skipNoBuild, timeout: 120_000 },
  () => {
    const base = ['render', '--fake', '--size', '32x16', '--frames', '4', '--no-progress'];
    const dir = mkdtempSync(join(tmpdir(), 'tandem-badflags-'));
    const out = ['--out', join(dir, 'x.raw')];
    try {
      const cases: Array<[string[], RegExp]> = [
        [['render', '--fake', '--bogus', ...out], /Unknown option `--bogus`/],
        [
          ['render', '--fake', '--size', '12xq', '--frames', '4', ...out],
          /--size '12xq' is not WIDTHxHEIGHT; write it like 1920x1080/,
        ],
        [
          ['render', '--fake', '--size', '32x16', '--frames', '0', ...out],
          /--frames must be a whole number ≥ 1, got '0'/,
        ],
        [['render', '--fake', '--size', '32x16', '--frames', '1.5', ...out], /--frames must be a whole number/],
        [['render', '--fake', '--size', '32x16', '--frames', 'many', ...out], /--frames must be a whole number/],
        [['render', '--fake', '--size', '32x16', '--frames=-3', ...out], /--frames must be a whole number/],
        [[...base, '--depth', '99', ...out], /--depth must be a whole number from 1 to 16, got '99'/],
        [[...base, '--device-slots', '0', ...out], /--device-slots must be a whole number from 1 to 16, got '0'/],
        [
          [...base, '--depth', '2', '--device-slots', '3', ...out],
          /--device-slots 3 is more than --depth 2: each device slot needs a pinned slot; raise --depth or lower --device-slots/,
        ],
        [[...base, '--mode', 'fast', ...out], /--mode must be overlap or serial, got 'fast'/],
        [[...base, '--format', 'bgr', ...out], /--format 'bgr' is not supported: use rgba or yuv420p/],
        [[...base, '--fps', '0', ...out], /--fps must be a number > 0/],
        [[...base, '--workload', 'nope', ...out], /unknown workload 'nope': choose one of/],
        [[...base, '--frames-per-chunk', '0', ...out], /--frames-per-chunk must be a whole number from 1 to 256/],
        // Values that pass their own range but overflow a 32-bit kernel argument name the flag the user typed.
        [
          ['render', '--fake', '--size', '32x16', '--frames', '5000000000', ...out],
          /--frames 5000000000 is more than a kernel's 32-bit frame index can count \(4294967295\)/,
        ],
        [
          ['render', '--fake', '--size', '7680x4320', '--format', 'rgba', '--frames-per-chunk', '256', ...out],
          /--frames-per-chunk 256 at --size 7680x4320 rgba makes .* chunks; a chunk must stay within 4 GiB/,
        ],
        [[...base, '--cost', '1e300', ...out], /--cost must be at most 10000, got '1e300'/],
        [['bench', '--fake', '--sizes', '12Q'], /--sizes: cannot read '12Q'; write sizes like 64M/],
        [['frobnicate'], /unknown command 'frobnicate'; run 'tandem --help'/],
      ];
      for (const [args, re] of cases) {
        const r = tandem(args);
        assert.equal(r.code, 2, `${args.join(' ')} → exit ${r.code}: ${r.stderr}`);
        assertClearError(r, re);
        assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line (${r.stderr})`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'a negative number as a value (--frames -3) is reported as a bad --frames, not as an unknown option',
  { skip: skipNoBuild, timeout: 60_000 },
  () => {
    const r = tandem(['render', '--fake', '--size', '32x16', '--frames', '-3', '--out', join(tmpdir(), 'never.raw')]);
    assert.equal(r.code, 2, r.stderr);
    assertClearError(r, /--frames/);
  },
);
