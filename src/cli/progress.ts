// The live progress line of `tandem render` (stderr). It is printed on a clock, not per chunk, so
// it moves at a steady pace whatever the chunk size: every PROGRESS_TTY_MS on a terminal (redrawn
// in place); elsewhere (a log file, CI) a line per tenth of the frames or every PROGRESS_LOG_MS,
// whichever comes first. The rate and the ETA are measured over the last RATE_WINDOW_MS, so one
// fast or slow chunk does not swing them.
import { performance } from 'node:perf_hooks';
import type { RenderProgress } from '../render/render.js';

/** Seconds as the render command prints them: 0.1 s resolution below 100 s, whole above. */
export function seconds(ms: number): string {
  return ms >= 100_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** The window the rate is measured over (ms): long enough that a burst of chunks is a small part. */
const RATE_WINDOW_MS = 20_000;

/**
 * Frames per second over the last RATE_WINDOW_MS (since the start, before that), and the ETA from
 * it. A burst of chunks that arrive together (a deep ring draining) is a small share of a window
 * this long, so it moves the ETA by a little, not to nothing; a lasting change of pace shows in
 * full within one window.
 */
export class EtaEstimator {
  private readonly samples: { t: number; frames: number }[] = [{ t: 0, frames: 0 }];
  private rate: number | null = null;

  constructor(private readonly total: number) {}

  /** Records `framesDone` at `nowMs` (since the start) and returns the rate (frames/s). */
  sample(framesDone: number, nowMs: number): number | null {
    const last = this.samples[this.samples.length - 1]!;
    if (nowMs > last.t) this.samples.push({ t: nowMs, frames: framesDone });
    // Keep one sample at or before the window's start.
    while (this.samples.length > 2 && this.samples[1]!.t <= nowMs - RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    if (framesDone > 0 && nowMs > first.t) this.rate = ((framesDone - first.frames) / (nowMs - first.t)) * 1000;
    return this.rate;
  }

  /** Seconds left at that rate; null before the first frame or once all are done. */
  eta(framesDone: number): number | null {
    if (this.rate === null || !(this.rate > 0) || framesDone >= this.total) return null;
    return (this.total - framesDone) / this.rate;
  }
}

/** 'sink' when the host stage was busy nearly all the time, else the GPU side. */
function liveBottleneck(p: RenderProgress, windowActiveMs: number, windowMs: number): string {
  if (p.chunksDone === 0 || windowMs <= 0) return '…';
  return windowActiveMs / windowMs > 0.9 ? 'sink (host stage)' : 'GPU (compute/copy)';
}

/** Print period on a terminal, and the longest gap between lines elsewhere (ms). */
export const PROGRESS_TTY_MS = 250;
export const PROGRESS_LOG_MS = 5000;

export class ProgressLine {
  private readonly tty: boolean;
  private readonly started = performance.now();
  private readonly eta: EtaEstimator;
  private lastPrint = -Infinity;
  private printedFrames = -1;
  /** Tenths of the frames already announced (the log form's per-progress lines). */
  private lastTenth = 0;
  private lastWindow = { t: 0, active: 0 };
  private bottleneck = '…';
  private current: RenderProgress = { framesDone: 0, chunksDone: 0, elapsedMs: 0, sinkActiveMs: 0, sinkInFlight: 0 };
  private ticker: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly total: number,
    private readonly readUtil: (() => number | null) | null,
    private readonly enabled: boolean,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = out.isTTY === true;
    this.eta = new EtaEstimator(total);
    // On the clock, so a slow chunk does not freeze the line (and NVML is still sampled).
    this.ticker = setInterval(() => this.tick(false), this.tty ? PROGRESS_TTY_MS : 500);
    this.ticker.unref();
  }

  /** A chunk finished: remember where the run is; the log form prints at each further tenth. */
  update(p: RenderProgress): void {
    this.current = p;
    if (this.enabled && !this.tty && this.total > 0) {
      const tenth = Math.floor((p.framesDone / this.total) * 10);
      if (tenth > this.lastTenth) {
        this.lastTenth = tenth;
        this.tick(true);
      }
    }
  }

  /** Stops the clock after the last line (the final counts); null: the run failed, no line. */
  end(p: RenderProgress | null): void {
    this.stopTicker();
    if (p === null) return;
    // The log form already printed this count (its last tenth): no second line for it.
    const printed = !this.tty && this.printedFrames === p.framesDone;
    this.current = p;
    if (!printed) this.tick(true, true);
    if (this.enabled && this.tty) this.out.write('\n');
  }

  private stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
  }

  private tick(force: boolean, final = false): void {
    const now = performance.now() - this.started;
    const period = !this.enabled ? 500 : this.tty ? PROGRESS_TTY_MS : PROGRESS_LOG_MS;
    if (!force && now - this.lastPrint < period - 20) return;
    this.lastPrint = now;
    const util = this.readUtil?.() ?? null;
    if (!this.enabled) return; // no line, but the summary still reports NVML's utilisation
    const p = this.current;
    const rate = this.eta.sample(p.framesDone, now);
    // Between the chunk reports seen at the last line and now (the run's own clock).
    if (p.elapsedMs > this.lastWindow.t) {
      this.bottleneck = liveBottleneck(p, p.sinkActiveMs - this.lastWindow.active, p.elapsedMs - this.lastWindow.t);
      this.lastWindow = { t: p.elapsedMs, active: p.sinkActiveMs };
    }
    const eta = this.eta.eta(p.framesDone);
    // The last line (all frames, or the run's end) leaves the bottleneck to the summary, which names the
    // whole run's; a line names only the window since the line before it.
    const last = final || p.framesDone >= this.total;
    const text =
      `${p.framesDone}/${this.total} frames  ${(rate ?? 0).toFixed(1)} fps  ${util === null ? 'GPU util n/a' : `GPU ${util}%`}` +
      `${last ? '' : `  bottleneck: ${this.bottleneck}`}${eta !== null ? `  eta ${seconds(eta * 1000)}` : ''}`;
    this.printedFrames = p.framesDone;
    if (this.tty) {
      const width = 24;
      const filled = Math.round((this.total ? p.framesDone / this.total : 0) * width);
      this.out.write(`\r\x1b[2K[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`);
    } else {
      this.out.write(`tandem render: ${text}\n`);
    }
  }
}
