// The fault matrix: every sink × every way the world can stop a render, through the built CLI as a child process
// on the fake device (`tandem render --fake`), with real files, real ffmpeg and real signals. Each cell checks the
// exit code, the message and exactly what is left on disk; docs/failures.md is the same table in words. The callback
// sink has no CLI: its cells run in-process (an AbortSignal is its only way to be told to stop). Frames are 64x48 so
// the whole matrix stays quick.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeDevice } from '../src/testing/index.js';
import { callbackSink } from '../src/sinks/callback.js';
import { createFrameWorkload } from '../src/workloads/registry.js';
import { runRender } from '../src/render/render.js';

let ROOT = dirname(fileURLToPath(import.meta.url));
while (!existsSync(join(ROOT, 'package.json'))) ROOT = dirname(ROOT);
const BIN = join(ROOT, 'bin', 'tandem.js');
const skipNoBuild = existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')) ? false : 'the CLI is not built';
const hasFfmpeg =
  spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0 &&
  spawnSync('ffprobe', ['-version'], { stdio: 'ignore' }).status === 0;
const skipFfmpeg = skipNoBuild || (!hasFfmpeg && 'ffmpeg/ffprobe not installed');

const FRAME = 64 * 48 * 1.5;
const RENDER = ['render', '--fake', '--workload', 'fractal', '--size', '64x48', '--no-progress'];

interface Outcome {
  code: number | null;
  stderr: string;
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tandem-matrix-'));
}

/** Runs the CLI to the end; `shell` runs first in a bash that then execs node (ulimit). */
function run(args: readonly string[], options: { shell?: string; env?: NodeJS.ProcessEnv } = {}): Outcome {
  const argv = options.shell
    ? ['bash', ['-c', `${options.shell}; exec "$0" "$@"`, process.execPath, BIN, ...args]]
    : [process.execPath, [BIN, ...args]];
  const r = spawnSync(argv[0] as string, argv[1] as string[], {
    encoding: 'utf8',
    env: { ...process.env, ...options.env },
    timeout: 60_000,
  });
  assert.ok(!r.error && r.signal === null, `the CLI ran to its end: ${r.error?.message ?? r.signal}`);
  return { code: r.status, stderr: r.stderr };
}

/** Starts a long render in the background. */
function start(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const ended = new Promise<Outcome & { signal: NodeJS.Signals | null }>((res) =>
    child.on('close', (code, signal) => res({ code, signal, stderr })),
  );
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void ended.then(() => clearTimeout(timer));
  return { child, ended, stderr: () => stderr };
}

/** Waits until a hidden temporary output starting with `prefix` in `dir` holds at least `bytes`. */
async function waitForTemp(dir: string, prefix: string, bytes: number, stderr: () => string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    for (const n of existsSync(dir) ? readdirSync(dir) : []) {
      if (!n.startsWith(prefix)) continue;
      const p = join(dir, n);
      const s = statSync(p);
      const size = s.isDirectory() ? readdirSync(p).length * 1000 : s.size;
      if (size >= bytes) return p;
    }
    assert.ok(Date.now() < deadline, `nothing written under ${prefix}*: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function ffprobeFrames(path: string): number | null {
  const r = spawnSync(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-count_packets'].concat([
      '-show_entries',
      'stream=nb_read_packets',
      '-of',
      'csv=p=0',
      path,
    ]),
    { encoding: 'utf8' },
  );
  const m = /^(\d+)\s*$/.exec(r.stdout);
  return m ? Number(m[1]) : null;
}

let reference: Buffer | null = null;
/** The fault-free raw output of 64 frames: every raw output, partial or whole, must be a prefix of it. */
function assertRawPrefix(bytes: Buffer, what: string, wholeFrames = true): void {
  if (!reference) {
    const dir = tmp();
    try {
      assert.equal(run([...RENDER, '--frames', '64', '--out', join(dir, 'ref.raw')]).code, 0);
      reference = readFileSync(join(dir, 'ref.raw'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.ok(bytes.length > 0, `${what}: not empty`);
  if (wholeFrames) assert.equal(bytes.length % FRAME, 0, `${what}: whole frames (${bytes.length} bytes)`);
  const n = Math.min(bytes.length, reference.length);
  assert.ok(bytes.subarray(0, n).equals(reference.subarray(0, n)), `${what}: the frames are the run's own`);
}

/** The summary is on stderr whatever happened; `status` is its first word after "tandem render". */
function assertSummary(o: Outcome, status: RegExp): void {
  assert.match(o.stderr, new RegExp(`^tandem render ${status.source}`, 'm'), o.stderr);
  assert.match(o.stderr, /^ {2}output {7}/m);
}

type Kind = 'raw' | 'png' | 'ffmpeg';
const OUT: Record<Kind, string> = { raw: 'x.raw', png: 'frames/', ffmpeg: 'x.mp4' };
const PARTIAL: Record<Kind, string> = { raw: 'x.partial.raw', png: 'frames/partial', ffmpeg: 'x.partial.mp4' };
const TEMP: Record<Kind, [string, string]> = {
  raw: ['', '.x.tandem-'],
  png: ['frames', '.tandem-'],
  ffmpeg: ['', '.x.tandem-'],
};

/** Checks a partial output: raw frames are the run's own, PNGs are whole files, an mp4 plays when finalised. */
function assertPartial(kind: Kind, dir: string, playable: boolean, wholeFrames = true): void {
  const path = join(dir, PARTIAL[kind]);
  assert.ok(existsSync(path), `${PARTIAL[kind]} is left: ${readdirSync(dir).join(', ')}`);
  if (kind === 'raw') assertRawPrefix(readFileSync(path), 'partial raw', wholeFrames);
  if (kind === 'png') {
    const names = readdirSync(path).sort();
    assert.ok(names.length > 0);
    names.forEach((n, i) => assert.equal(n, `frame_${String(i + 1).padStart(6, '0')}.png`));
    for (const n of names) assert.ok(readFileSync(join(path, n)).subarray(1, 4).toString() === 'PNG', n);
  }
  if (kind === 'ffmpeg' && playable) assert.ok((ffprobeFrames(path) ?? 0) > 0, 'the partial mp4 plays');
}

/** Nothing under the final name (a PNG directory holds no frame file), and no temporary left. */
function assertNoFinal(kind: Kind, dir: string): void {
  if (kind === 'png') {
    const left = readdirSync(join(dir, 'frames')).filter((n) => n !== 'partial');
    assert.deepEqual(
      left.filter((n) => !statSync(join(dir, 'frames', n)).isDirectory() || n.startsWith('.')),
      [],
      `frames/ holds no frame file and no temporary: ${left.join(', ')}`,
    );
  } else {
    const left = readdirSync(dir).filter((n) => n.startsWith('x') || n.startsWith('.x'));
    assert.deepEqual(
      left.filter((n) => n !== PARTIAL[kind]),
      [],
      `only ${PARTIAL[kind]} is left: ${left.join(', ')}`,
    );
  }
}

/** Starts a long render into `dir` and waits until its temporary output holds something. */
async function startWriting(kind: Kind, dir: string) {
  const r = start([...RENDER, '--frames', '100000', '--out', join(dir, OUT[kind])]);
  const [sub, prefix] = TEMP[kind];
  return { ...r, temp: await waitForTemp(join(dir, sub), prefix, 10_000, r.stderr) };
}

const KINDS: Kind[] = ['raw', 'png', 'ffmpeg'];
const skipFor = (kind: Kind) => (kind === 'ffmpeg' ? skipFfmpeg : skipNoBuild);

for (const kind of KINDS) {
  test(
    `${kind} × disk full (ulimit -f): exit 1, the cause and the fix; a partial output, nothing under the final name`,
    { skip: skipFor(kind), timeout: 60_000 },
    () => {
      const dir = tmp();
      try {
        // Limits each run's files outgrow: 24 KiB of raw frames, 8 KiB of mp4, 2 KiB of one PNG frame.
        const limit = kind === 'png' ? 'ulimit -f 2' : kind === 'ffmpeg' ? 'ulimit -f 8' : 'ulimit -f 24';
        const frames = kind === 'png' ? '16' : '64';
        const o = run([...RENDER, '--frames', frames, '--out', join(dir, OUT[kind])], { shell: limit });
        assert.equal(o.code, 1, o.stderr);
        assertSummary(o, /failed/);
        if (kind === 'ffmpeg') {
          assert.match(
            o.stderr,
            /^tandem: stage 'sink' failed while finishing the output: ffmpeg sink: .*x\.mp4 was not written completely: ffmpeg was killed by SIGXFSZ/m,
          );
          assert.match(o.stderr, /partial, not finalised/);
        } else {
          assert.match(
            o.stderr,
            /^tandem: render fractal: stage 'sink' failed at chunk \d+: .*file too large \(EFBIG.*ulimit -f/m,
          );
        }
        if (kind === 'png') mkdirSync(join(dir, 'frames'), { recursive: true });
        assertNoFinal(kind, dir);
        // A file cut by its size limit may end inside a frame: the bytes before the limit are still the run's own.
        if (existsSync(join(dir, PARTIAL[kind]))) assertPartial(kind, dir, false, false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test(
    `${kind} × file in the way: a clear error before or after the run, nothing mixed under the final name`,
    { skip: skipFor(kind), timeout: 60_000 },
    () => {
      const dir = tmp();
      try {
        if (kind === 'png') {
          // A directory where frame 2's file goes: found when the frames move into place.
          mkdirSync(join(dir, 'frames', 'frame_000002.png'), { recursive: true });
          const o = run([...RENDER, '--frames', '8', '--out', join(dir, 'frames/')]);
          assert.equal(o.code, 1, o.stderr);
          assertSummary(o, /failed/);
          assert.match(
            o.stderr,
            /^tandem: stage 'sink' failed while finishing the output: png sink: .*frame_000002\.png is in the way \(not a file\): remove it/m,
          );
          assert.deepEqual(readdirSync(join(dir, 'frames')).sort(), ['frame_000002.png', 'partial']);
          assertPartial(kind, dir, false);
        } else {
          // A file where the output's directory should be: refused before any frame is made.
          writeFileSync(join(dir, 'blocker'), 'x');
          const o = run([...RENDER, '--frames', '8', '--out', join(dir, 'blocker', OUT[kind])]);
          assert.equal(o.code, 2, o.stderr);
          assert.match(o.stderr, /^tandem: .*blocker is not a directory: choose another output path/m);
          assert.deepEqual(readdirSync(dir), ['blocker']);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test(
    `${kind} × tandem killed (SIGKILL): the final name is untouched; only the temporary (pid in its name) is left`,
    { skip: skipFor(kind), timeout: 60_000 },
    async () => {
      const dir = tmp();
      try {
        const r = await startWriting(kind, dir);
        const temp = r.temp;
        r.child.kill('SIGKILL');
        const o = await r.ended;
        assert.equal(o.signal, 'SIGKILL');
        assert.ok(temp.includes(`tandem-${r.child.pid}-`), `the temporary names the pid: ${temp}`);
        assert.deepEqual(readdirSync(join(dir, TEMP[kind][0])), [basename(temp)]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const code = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 }[signal];
    test(
      `${kind} × ${signal} once: exit ${code}, the summary, a finalised partial output`,
      { skip: skipFor(kind), timeout: 60_000 },
      async () => {
        const dir = tmp();
        try {
          const r = await startWriting(kind, dir);
          r.child.kill(signal);
          const o = await r.ended;
          assert.equal(o.code, code, o.stderr);
          assertSummary(o, new RegExp(`interrupted \\(${signal}\\)`));
          assertNoFinal(kind, dir);
          assertPartial(kind, dir, true);
          if (kind === 'ffmpeg') assert.match(o.stderr, /x\.partial\.mp4 \(partial, finalised by ffmpeg: playable\)/);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );
  }

  test(
    `${kind} × SIGINT twice: exit 130 at once, what was written kept under the partial name`,
    { skip: skipFor(kind), timeout: 60_000 },
    async () => {
      const dir = tmp();
      try {
        const r = await startWriting(kind, dir);
        r.child.kill('SIGINT');
        r.child.kill('SIGINT');
        const o = await r.ended;
        assert.equal(o.code, 130, o.stderr);
        // The second signal may arrive after the first has already finished the output: either way the same result.
        assert.match(
          o.stderr,
          /SIGINT again, exiting at once; what was written is kept as .*partial|^tandem render interrupted \(SIGINT\)/m,
        );
        assertNoFinal(kind, dir);
        assertPartial(kind, dir, false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test(
    `${kind} × two renders to the same output at once: both exit 0 and the output is one whole run's`,
    { skip: skipFor(kind), timeout: 60_000 },
    async () => {
      const dir = tmp();
      try {
        const args = [...RENDER, '--frames', '24', '--out', join(dir, OUT[kind])];
        const [a, b] = await Promise.all([start(args).ended, start(args).ended]);
        assert.equal(a.code, 0, a.stderr);
        assert.equal(b.code, 0, b.stderr);
        if (kind === 'raw') {
          assert.deepEqual(readdirSync(dir), ['x.raw']);
          const bytes = readFileSync(join(dir, 'x.raw'));
          assert.equal(bytes.length, 24 * FRAME);
          assertRawPrefix(bytes, 'concurrent raw');
        } else if (kind === 'ffmpeg') {
          assert.deepEqual(readdirSync(dir), ['x.mp4']);
          assert.equal(ffprobeFrames(join(dir, 'x.mp4')), 24);
        } else {
          const names = readdirSync(join(dir, 'frames')).sort();
          assert.equal(names.length, 24, names.join(', '));
          assert.equal(names[23], 'frame_000024.png');
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}

test(
  'ffmpeg × ffmpeg killed (SIGKILL of the child): exit 1 naming ffmpeg and the signal; the partial is kept, not finalised',
  { skip: skipFfmpeg, timeout: 60_000 },
  async () => {
    const dir = tmp();
    try {
      const pidFile = join(dir, 'ffmpeg.pid');
      const wrapper = join(dir, 'ffmpeg-wrapper');
      writeFileSync(wrapper, `#!/bin/sh\necho $$ > '${pidFile}'\nexec ffmpeg "$@"\n`);
      chmodSync(wrapper, 0o755);
      const r = start([...RENDER, '--frames', '100000', '--out', join(dir, 'x.mp4')], { TANDEM_FFMPEG: wrapper });
      await waitForTemp(dir, '.x.tandem-', 10_000, r.stderr);
      process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
      const o = await r.ended;
      assert.equal(o.code, 1, o.stderr);
      assertSummary(o, /failed/);
      assert.match(o.stderr, /^tandem: .*ffmpeg was killed by SIGKILL/m);
      assert.deepEqual(
        readdirSync(dir).filter((n) => n.startsWith('x') || n.startsWith('.x')),
        ['x.partial.mp4'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'stdout × disk full (stdout is /dev/full): exit 1, ENOSPC named, the summary',
  { skip: skipNoBuild || (!existsSync('/dev/full') && 'no /dev/full'), timeout: 60_000 },
  () => {
    const o = run([...RENDER, '--frames', '16', '--out=-'], { shell: 'exec >/dev/full' });
    assert.equal(o.code, 1, o.stderr);
    assertSummary(o, /failed/);
    assert.match(o.stderr, /^tandem: .*stage 'sink' failed at chunk \d+: .*ENOSPC/m);
  },
);

test(
  'stdout × reader killed / closed (| head): exit 141, the summary says stdout was closed',
  { skip: skipNoBuild, timeout: 60_000 },
  () => {
    const o = run([...RENDER, '--frames', '100000', '--out=-'], { shell: 'exec > >(head -c 20000 >/dev/null)' });
    assert.equal(o.code, 141, o.stderr);
    assertSummary(o, /interrupted \(stdout closed: .*EPIPE\)/);
  },
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(
    `stdout × ${signal}: exit ${signal === 'SIGINT' ? 130 : 143} and the summary on stderr`,
    { skip: skipNoBuild, timeout: 60_000 },
    async () => {
      const child = spawn(process.execPath, [BIN, ...RENDER, '--frames', '100000', '--out=-'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let bytes = 0;
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const got = new Promise<void>((res) =>
        child.stdout.on('data', (d: Buffer) => (bytes += d.length) > 20_000 && res()),
      );
      const ended = new Promise<number | null>((res) => child.on('close', (c) => res(c)));
      await got;
      child.kill(signal);
      const code = await ended;
      assert.equal(code, signal === 'SIGINT' ? 130 : 143, stderr);
      assertSummary({ code, stderr }, new RegExp(`interrupted \\(${signal}\\)`));
      assert.equal(bytes % FRAME, 0, 'whole frames on stdout');
    },
  );
}

test("callback × abort (the API's only way to stop it): the run ends with AbortError, the callback saw whole chunks in order", async () => {
  const device = new FakeDevice();
  const workload = createFrameWorkload('fractal', {
    width: 64,
    height: 48,
    pixelFormat: 'yuv420p',
    framesPerChunk: 4,
    cost: 1,
  });
  try {
    const ac = new AbortController();
    const seen: number[] = [];
    const sink = callbackSink(
      (batch) => {
        seen.push(batch.chunkIndex);
        if (seen.length === 3) ac.abort(Object.assign(new Error('stop'), { name: 'AbortError' }));
      },
      { format: workload.format },
    );
    const outcome = await runRender({ device, workload, sink, frames: 400, signal: ac.signal });
    assert.equal((outcome.error as Error)?.name, 'AbortError');
    assert.deepEqual(
      seen,
      seen.map((_, i) => i),
      'in order, none twice',
    );
    assert.ok(seen.length < 100);
    assert.equal(outcome.sink.file, undefined, 'a callback sink writes no file');
  } finally {
    workload.close();
    await device[Symbol.asyncDispose]();
  }
});
