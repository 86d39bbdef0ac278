// Runs the Python peers of bench/peers/ (the code a user would write instead of tandem) on the
// same cells, with the same CUDA kernel source and launch, and collects their JSON. A missing
// python, torch or cupy is a skipped peer with the reason, never a failed bench.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { PeerLaunch } from './capture.js';
import type { Cell } from './results.js';

export interface PeerSpec {
  name: string;
  script: string;
  description: string;
  /** Whether it runs once per depth (the stream peers) or once per cell (the habit). */
  perDepth: boolean;
}

export const PEERS: readonly PeerSpec[] = [
  {
    name: 'torch-sketch',
    script: 'torch_sketch.py',
    description: 'PyTorch dual-stream sketch (reference/dual-cuda-stream-overlap.txt) with barriers 1 and 3 added',
    perDepth: true,
  },
  {
    name: 'torch-habit',
    script: 'torch_habit.py',
    description: "PyTorch's usual habit: out.cpu() per chunk on one stream",
    perDepth: false,
  },
  {
    name: 'cupy-streams',
    script: 'cupy_streams.py',
    description: 'CuPy, compute and copy streams, pinned buffers, events both ways',
    perDepth: true,
  },
];

export interface PeerCellConfig {
  key: string;
  chunkBytes: number;
  chunks: number;
  depths: number[];
  launch: Omit<PeerLaunch, 'kernel'>;
}

export interface PeerConfig {
  device: number;
  warmupChunks: number;
  /** torch-habit runs at most this many bytes of a cell's chunks (≥ 8) and scales its wall. */
  habitMaxBytes?: number;
  /** Batch mode: runs of each cell at each depth; the median is reported. Default 1. */
  repeats?: number;
  /**
   * Whether the peer times each cell's stages alone for its efficiency (default true, as a run by
   * hand needs); false: its efficiency is null and attachPeerResults divides by the tandem cell's.
   */
  alone?: boolean;
  kernel: PeerLaunch['kernel'];
  cells: PeerCellConfig[];
}

export interface PeerCellResult {
  key: string;
  depth: number | null;
  wallMs: number;
  computeAloneMs: number | null;
  copyAloneMs: number | null;
  efficiency: number | null;
  bytes: number;
  /** Chunks the peer really ran when fewer than the cell's (its wall is scaled to the cell). */
  chunksRun?: number;
}

export type PeerOutcome =
  | { peer: string; status: 'ok'; cells: PeerCellResult[] }
  | { peer: string; status: 'skipped' | 'failed'; reason: string };

/** bench/peers/ next to the package (src/profile → ../../bench/peers; dist/src/profile → ../../../). */
export function peersDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../bench/peers', '../../../bench/peers']) {
    const dir = path.resolve(here, up);
    if (existsSync(path.join(dir, 'common.py'))) return dir;
  }
  return path.resolve(here, '../../bench/peers');
}

export function pythonCommand(env: NodeJS.ProcessEnv = process.env): string {
  return env.TANDEM_PYTHON || 'python3';
}

/** The last line of `stdout` that parses as a JSON object with a `peer` field. */
export function parsePeerOutput(stdout: string): PeerOutcome | null {
  const lines = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const v = JSON.parse(lines[i]!) as PeerOutcome;
      if (v && typeof v === 'object' && typeof v.peer === 'string' && typeof v.status === 'string') return v;
    } catch {
      // not the result line
    }
  }
  return null;
}

export interface PeerProcessOptions {
  python?: string;
  dir?: string;
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** How a peer is started, batch or serving: the python, its script, where its stderr goes. */
export function peerProcess(spec: PeerSpec, options: PeerProcessOptions) {
  const python = options.python ?? pythonCommand();
  return {
    python,
    script: path.join(options.dir ?? peersDir(), spec.script),
    log: options.log ?? ((l: string) => process.stderr.write(`${l}\n`)),
    env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' },
    /** Why spawning failed, said so that the user knows what to set. */
    spawnFailure: (err: NodeJS.ErrnoException) =>
      err.code === 'ENOENT' ? `${python} not found (set TANDEM_PYTHON to a Python 3 with torch and cupy)` : err.message,
  };
}

/** Runs one peer over the config; its stderr is passed through, prefixed, to `log`. */
export async function runPeer(
  spec: PeerSpec,
  configPath: string,
  options: PeerProcessOptions = {},
): Promise<PeerOutcome> {
  const { python, script, log, env, spawnFailure } = peerProcess(spec, options);
  if (!existsSync(script)) return { peer: spec.name, status: 'skipped', reason: `${script} not found` };
  return await new Promise<PeerOutcome>((resolve) => {
    let stdout = '';
    let stderrTail = '';
    let partial = '';
    let settled = false;
    const done = (o: PeerOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const child = spawn(python, [script, configPath], { stdio: ['ignore', 'pipe', 'pipe'], env });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done({
        peer: spec.name,
        status: 'failed',
        reason: `no result after ${Math.round((options.timeoutMs ?? 600_000) / 1000)} s; killed`,
      });
    }, options.timeoutMs ?? 600_000);
    timer.unref();
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderrTail = (stderrTail + d).slice(-2000);
      partial += d;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) log(`  [${spec.name}] ${l}`);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      done({ peer: spec.name, status: 'skipped', reason: spawnFailure(err) });
    });
    child.on('close', (code, signal) => {
      const parsed = parsePeerOutput(stdout);
      if (parsed) return done(parsed);
      const tail = stderrTail.trim().split('\n').slice(-3).join(' | ');
      done({
        peer: spec.name,
        status: 'failed',
        reason: `exited with ${signal ?? `code ${code}`} without a result${tail ? `: ${tail}` : ''}`,
      });
    });
  });
}

export async function writePeerConfig(file: string, config: PeerConfig): Promise<void> {
  await writeFile(file, JSON.stringify(config, null, 1));
}

/**
 * Puts a peer's figures beside tandem's cells: a stream peer (with a depth) pairs with the
 * overlap cell of the same size, ratio and depth; the habit (no depth) with every tandem cell of
 * its size and ratio. Cells carry their peer key as the start of their id ("64MiB-r1-d2").
 */
export function attachPeerResults(cells: Cell[], peer: string, results: readonly PeerCellResult[]): void {
  for (const r of results) {
    for (const cell of cells) {
      if (!cell.id.startsWith(`${r.key}-`)) continue;
      if (r.depth !== null && (cell.mode !== 'overlap' || cell.depth !== r.depth)) continue;
      // A peer that did not time its stages alone: against the tandem cell's ideal (the same
      // kernel and copies on the same GPU, as the interleaved stream peers are).
      const ideal = Math.max(cell.alone?.computeMs ?? 0, cell.alone?.copyMs ?? 0);
      cell.peers[peer] = {
        wallMs: r.wallMs,
        efficiency: r.efficiency ?? (ideal > 0 && r.wallMs > 0 ? ideal / r.wallMs : null),
        computeAloneMs: r.computeAloneMs,
        copyAloneMs: r.copyAloneMs,
        bytes: r.bytes,
        ...(r.chunksRun !== undefined && r.chunksRun !== cell.chunks ? { chunksRun: r.chunksRun } : {}),
        ...(cell.stats.wallMs > 0 ? { tandemSpeedup: r.wallMs / cell.stats.wallMs } : {}),
      };
    }
  }
}
