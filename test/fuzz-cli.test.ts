// Fuzzing the CLI's option parsing: seeded random argv for `tandem render --fake` and
// `tandem bench --fake`, run through the built CLI. Property: exit 0 (a valid run), or exit 2
// with one "tandem: …" line naming what to change, or exit 1 with a clear one-line error — never
// a stack trace, a TypeError, a signal or a hang. A failing case prints its argv to replay it.
// Needs `npm run build` first (npm test does it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 as prng } from '../src/util/prng.js';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const ROOT = repoRoot();
const BIN = join(ROOT, 'bin', 'tandem.js');
const skip = existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))
  ? false
  : 'the CLI is not built: run npm run build';

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

// Values a user might type by mistake. None is valid-but-enormous (1e9 frames would be a real,
// endless run, not a hang).
const JUNK = [
  '',
  '-1',
  '0',
  '1.5',
  'NaN',
  'abc',
  'x,y',
  '-',
  '=',
  '1e-3',
  '0x10',
  ' ',
  '99999999999999999999',
  '3,3',
  'Infinity',
];

const RENDER_OPTIONS: Record<string, readonly string[]> = {
  '--workload': ['fractal', 'decoder', 'synthetic'],
  '--size': ['32x16', '16x16', '64x48', '8x8', '33x17'],
  '--frames': ['1', '2', '5', '8'],
  '--format': ['yuv420p', 'rgba'],
  '--frames-per-chunk': ['1', '2', '4', '256'],
  '--depth': ['1', '2', '3', 'auto', '16'],
  '--mode': ['overlap', 'serial'],
  '--fps': ['30', '24', '0.5'],
  '--cost': ['1', '0.5', '2'],
  '--device': ['0'],
  '--png-workers': ['1', '2'],
};
const BENCH_OPTIONS: Record<string, readonly string[]> = {
  '--modes': ['overlap', 'serial', 'overlap,serial'],
  '--depths': ['1', '2', '2,3', 'auto'],
  '--ratios': ['0.5', '1', '2', '0.5,2'],
  '--sizes': ['64K', '16K', '64K,16K', '4096'],
  '--chunks': ['2', '4', '8'],
  '--workload': ['synthetic'],
  '--device': ['0'],
};
const FLAGS = ['--json', '--no-trace', '--no-progress', '--bogus', '-x', '--help'];

function randomArgv(rnd: () => number, dir: string, k: number): string[] {
  const render = rnd() < 0.6;
  const table = render ? RENDER_OPTIONS : BENCH_OPTIONS;
  const argv = [render ? 'render' : 'bench', '--fake'];
  const junkRate = rnd() < 0.35 ? 0 : 0.25;
  for (const [flag, valid] of Object.entries(table)) {
    if (rnd() > (render && (flag === '--frames' || flag === '--size') ? 0.97 : 0.45)) continue;
    const value = rnd() < junkRate ? pick(rnd, JUNK) : pick(rnd, valid);
    const form = rnd();
    if (form < 0.3) argv.push(`${flag}=${value}`);
    else if (form < 0.95 || junkRate === 0) argv.push(flag, value);
    else argv.push(flag); // the value forgotten
  }
  if (rnd() < 0.25) argv.push(pick(rnd, FLAGS));
  if (render) {
    // Small frames only (the fake's kernels are JS); the output in a scratch dir.
    if (!argv.some((a) => a.startsWith('--size'))) argv.push('--size', '32x16');
    if (!argv.some((a) => a.startsWith('--frames'))) argv.push('--frames', '4');
    argv.push(
      '--no-progress',
      '--out',
      rnd() < 0.1 ? pick(rnd, JUNK) : join(dir, `out${k}.${pick(rnd, ['raw', 'yuv', 'raw'])}`),
    );
  } else {
    if (!argv.some((a) => a.startsWith('--chunks'))) argv.push('--chunks', '4');
    if (!argv.some((a) => a.startsWith('--sizes'))) argv.push('--sizes', '16K');
    argv.push('--out', join(dir, `bench${k}`));
  }
  return argv;
}

test('fuzz: 40 random argv for render and bench never crash, hang or print a stack', { skip, timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-fuzz-cli-'));
  const tally = new Map<number | string, number>();
  try {
    for (let seed = 1; seed <= 40; seed++) {
      const rnd = prng(seed * 7919);
      const argv = randomArgv(rnd, dir, seed);
      const r = spawnSync(process.execPath, [BIN, ...argv], {
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, TANDEM_DEBUG: '' },
      });
      const replay = `seed ${seed}: tandem ${argv.map((a) => JSON.stringify(a)).join(' ')}`;
      assert.ok(!r.error, `${replay}: did not finish (${r.error?.message}) — a hang`);
      assert.equal(r.signal, null, `${replay}: killed by ${r.signal}`);
      tally.set(r.status ?? 'null', (tally.get(r.status ?? 'null') ?? 0) + 1);
      if (process.env.FUZZ_VERBOSE) console.error(`  ${replay} → ${r.status} ${r.stderr.split('\n')[0]}`);
      assert.ok(r.status === 0 || r.status === 1 || r.status === 2, `${replay}: exit ${r.status}\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /^\s+at .+:\d+:\d+\)?$/m, `${replay}: a stack trace\n${r.stderr}`);
      assert.doesNotMatch(
        r.stderr,
        /TypeError|ReferenceError|RangeError|SyntaxError|undefined is not|Cannot read prop/,
        `${replay}\n${r.stderr}`,
      );
      if (r.status !== 0) {
        const lines = r.stderr
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('tandem: '));
        assert.equal(lines.length, 1, `${replay}: one 'tandem: …' line\n${r.stderr}`);
        assert.ok(lines[0]!.length > 'tandem: '.length + 10, `${replay}: the line says something`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.error(`  exit codes: ${[...tally].map(([k, v]) => `${k}×${v}`).join(', ')}`);
  assert.ok((tally.get(0) ?? 0) >= 5, 'some runs are valid');
  assert.ok((tally.get(2) ?? 0) >= 5, 'some are usage errors');
});
