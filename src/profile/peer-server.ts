// A stream peer kept running for the whole bench (`python3 bench/peers/<peer>.py --serve N`), so
// `tandem bench` can run it right after each of its own runs, cell by cell, instead of all peers
// at the end: tandem and a peer then see the same host, the same copy bandwidth (which drifts
// within a minute on some hosts) and the same clocks. One request at a time; the
// protocol (JSON lines) is described in bench/peers/common.py.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { PeerLaunch } from './capture.js';
import {
  peerProcess,
  type PeerCellConfig,
  type PeerConfig,
  type PeerOutcome,
  type PeerProcessOptions,
  type PeerSpec,
} from './peers.js';

export interface PeerAlone {
  computeAloneMs: number | null;
  copyAloneMs: number | null;
}

type Reply = Record<string, unknown>;

export class PeerServer {
  /** Why the server cannot be used (it was skipped, failed or closed); null while it can. */
  failure: { status: 'skipped' | 'failed'; reason: string } | null = null;
  private readonly child: ChildProcessWithoutNullStreams | null;
  private waiting: { resolve: (r: Reply) => void; timer: NodeJS.Timeout } | null = null;
  private readonly replies: Reply[] = [];
  private stderrTail = '';
  private exited = false;
  private closing = false;

  private constructor(
    readonly spec: PeerSpec,
    child: ChildProcessWithoutNullStreams | null,
    private readonly timeoutMs: number,
  ) {
    this.child = child;
  }

  /**
   * Starts the peer and waits for its imports: resolves with a server whose `failure` says why it
   * cannot run (python or a module missing, no GPU) when it cannot; never rejects.
   */
  static async start(spec: PeerSpec, device: number, options: PeerProcessOptions = {}): Promise<PeerServer> {
    const { python, script, log, env, spawnFailure } = peerProcess(spec, options);
    const timeoutMs = options.timeoutMs ?? 300_000;
    if (!existsSync(script)) {
      const s = new PeerServer(spec, null, timeoutMs);
      s.failure = { status: 'skipped', reason: `${script} not found` };
      return s;
    }
    const child = spawn(python, [script, '--serve', String(device)], { stdio: ['pipe', 'pipe', 'pipe'], env });
    const server = new PeerServer(spec, child, timeoutMs);
    server.attach(spawnFailure, log);
    const first = await server.next();
    if (first.ready === true) return server;
    if (server.failure) return server;
    // The peer's own "skipped" line (a missing module) or anything else it printed first.
    const status = first.status === 'skipped' ? 'skipped' : 'failed';
    server.fail(
      status,
      typeof first.reason === 'string' ? first.reason : `unexpected first line ${JSON.stringify(first)}`,
    );
    return server;
  }

  private attach(spawnFailure: (err: NodeJS.ErrnoException) => string, log: (line: string) => void): void {
    const child = this.child!;
    createInterface({ input: child.stdout }).on('line', (line) => {
      let msg: Reply;
      try {
        msg = JSON.parse(line) as Reply;
      } catch {
        log(`  [${this.spec.name}] (stdout) ${line}`);
        return;
      }
      if (!msg || typeof msg !== 'object') return;
      this.deliver(msg);
    });
    createInterface({ input: child.stderr }).on('line', (line) => {
      this.stderrTail = (this.stderrTail + line + '\n').slice(-2000);
      if (line.trim()) log(`  [${this.spec.name}] ${line}`);
    });
    child.stdin.on('error', () => {}); // a peer that died: reported by 'close' below
    child.on('error', (err: NodeJS.ErrnoException) => {
      this.fail('skipped', spawnFailure(err));
    });
    child.on('close', (code, signal) => {
      this.exited = true;
      if (this.failure || this.closing) return;
      const tail = this.stderrTail.trim().split('\n').slice(-3).join(' | ');
      this.fail('failed', `exited with ${signal ?? `code ${code}`}${tail ? `: ${tail}` : ''}`);
    });
  }

  private deliver(msg: Reply): void {
    const w = this.waiting;
    if (!w) {
      this.replies.push(msg);
      return;
    }
    this.waiting = null;
    clearTimeout(w.timer);
    w.resolve(msg);
  }

  private fail(status: 'skipped' | 'failed', reason: string): void {
    if (!this.failure) this.failure = { status, reason };
    // A request in flight gets the failure as its reply.
    this.deliver({ ok: false, error: reason, failed: true });
    if (this.child && !this.exited) this.child.kill('SIGKILL');
  }

  /** The next line the peer printed, or a failure reply. */
  private next(): Promise<Reply> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.resolve({ ok: false, error: this.failure.reason, failed: true });
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => this.fail('failed', `no reply after ${Math.round(this.timeoutMs / 1000)} s; killed`),
        this.timeoutMs,
      );
      this.waiting = { resolve, timer };
    });
  }

  private async request(msg: Reply): Promise<Reply> {
    if (this.failure) throw new Error(this.failure.reason);
    this.child!.stdin.write(`${JSON.stringify(msg)}\n`);
    const r = await this.next();
    if (r.ok === true) return r;
    const why = typeof r.error === 'string' ? r.error : JSON.stringify(r);
    // A failed request leaves the peer's CUDA context in doubt: it is not used again.
    this.fail('failed', why);
    throw new Error(why);
  }

  /**
   * Makes the cell's buffers and warms it up in the peer's process; with `alone`, also times its
   * stages alone there (else both figures are null).
   */
  async prepare(
    cell: Omit<PeerCellConfig, 'depths'> & { depths?: number[] },
    kernel: PeerLaunch['kernel'],
    warmupChunks: number,
    alone = true,
  ): Promise<PeerAlone> {
    const r = await this.request({ op: 'cell', cell, kernel, warmupChunks, alone });
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    return { computeAloneMs: num(r.computeAloneMs), copyAloneMs: num(r.copyAloneMs) };
  }

  /** One run of the prepared cell at `depth`: the peer's wall, ms. */
  async run(depth: number): Promise<number> {
    const r = await this.request({ op: 'run', depth });
    if (typeof r.wallMs !== 'number' || !(r.wallMs > 0)) {
      this.fail('failed', `run reply without a wall: ${JSON.stringify(r)}`);
      throw new Error(this.failure!.reason);
    }
    return r.wallMs;
  }

  /**
   * A one-batch peer (torch-habit --serve): runs `config` as its batch mode would and returns
   * the outcome; the peer exits after it.
   */
  async batch(config: PeerConfig): Promise<PeerOutcome> {
    if (this.failure) return { peer: this.spec.name, status: this.failure.status, reason: this.failure.reason };
    this.closing = true; // its exit after the reply is the normal end
    this.child!.stdin.write(`${JSON.stringify(config)}\n`);
    const r = await this.next();
    if (typeof r.peer === 'string' && (r.status === 'ok' || r.status === 'failed' || r.status === 'skipped'))
      return r as unknown as PeerOutcome;
    const reason = typeof r.error === 'string' ? r.error : `unexpected reply ${JSON.stringify(r).slice(0, 200)}`;
    this.fail('failed', reason);
    return { peer: this.spec.name, status: 'failed', reason };
  }

  /** Ends the peer (end of its input); kills it if it has not exited within `graceMs`. */
  async close(graceMs = 10_000): Promise<void> {
    const child = this.child;
    if (!child || this.exited) return;
    this.closing = true;
    child.stdin.end();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, graceMs);
      t.unref();
      child.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      if (this.exited) {
        clearTimeout(t);
        resolve();
      }
    });
  }
}
