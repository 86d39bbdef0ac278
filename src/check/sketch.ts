// The PyTorch dual-stream sketch of the reference page, transcribed line for line to tandem's
// object model: two streams, two VRAM and two pinned buffers, done_decode / done_d2h events,
// a launcher that runs free and a worker that waits on done_d2h[i] before reading host_buf[i].
// As written it lacks barrier 1 (compute waits for the D2H of n−2) and barrier 3 (D2H(n) only
// after the worker released host_buf[i]); `barriers` adds them back, for comparison. Not part of
// the package's API: tests and bench/race.ts use it to show what the checker finds and what the
// races really do to the data.
import type { DeviceBuffer, Stream } from '../core/types.js';
import type { Device } from '../pipeline/device.js';

export interface SketchOptions {
  chunks: number;
  /** Bytes of each chunk's output (vram_buf / host_buf size). */
  outputBytes: number;
  /** `decode(latent, out=vram_buf[i])`: enqueue chunk n's kernels writing `out` on `stream`. */
  decode(stream: Stream, out: DeviceBuffer, n: number): void;
  /** The worker thread's work on host_buf[i] once done_d2h[i] completed ("write to disk"). */
  worker(data: Uint8Array, n: number): void | Promise<void>;
  /** Barriers the sketch leaves out; default none (the sketch as written). */
  barriers?: { computeWaitsOnCopy?: boolean; hostRelease?: boolean };
}

const ring = 2;

/** Runs the sketch to the end; resolves once the worker saw every chunk. */
export async function runSketch(device: Device, o: SketchOptions): Promise<void> {
  const computeStream = device.createStream({ label: 'compute' });
  const copyStream = device.createStream({ label: 'copy' });
  const vram = [0, 1].map((i) => device.allocDevice(o.outputBytes, `vram_buf[${i}]`));
  const host = [0, 1].map((i) => device.allocPinned(o.outputBytes, `host_buf[${i}]`));
  const doneDecode = [0, 1].map((i) => device.createEvent({ label: `done_decode[${i}]` }));
  const doneD2h = [0, 1].map((i) => device.createEvent({ label: `done_d2h[${i}]` }));
  const released: Promise<void>[] = [];
  const queue: number[] = [];
  const wakeup = { fn: null as (() => void) | null };
  let launcherDone = false;
  let workerError: unknown = null;

  // The worker thread: takes chunk n from the queue, waits on done_d2h[i], reads host_buf[i].
  const releases: Array<() => void> = [];
  const worker = (async () => {
    let next = 0;
    while (next < o.chunks) {
      if (queue.length === 0) {
        if (launcherDone) break;
        await new Promise<void>((r) => (wakeup.fn = r));
        continue;
      }
      const n = queue.shift()!;
      const i = n % ring;
      await doneD2h[i]!.completion();
      device.hostAccess(host[i]!, 'read', `worker takes chunk ${n}`);
      await o.worker(host[i]!.bytes, n);
      device.hostAccess(host[i]!, 'read', `worker done with chunk ${n}`);
      releases[n]?.();
      next++;
    }
  })().catch((err: unknown) => {
    workerError = err;
    for (const r of releases) r?.();
  });

  try {
    for (let n = 0; n < o.chunks; n++) {
      released[n] = new Promise<void>((r) => (releases[n] = r));
      const i = n % ring;
      if (o.barriers?.computeWaitsOnCopy && n >= ring) computeStream.waitEvent(doneD2h[i]!);
      o.decode(computeStream, vram[i]!, n);
      doneDecode[i]!.record(computeStream);
      if (o.barriers?.hostRelease && n >= ring) await released[n - ring];
      copyStream.waitEvent(doneDecode[i]!);
      device.copy(copyStream, host[i]!, vram[i]!, { chunk: n });
      doneD2h[i]!.record(copyStream);
      queue.push(n);
      wakeup.fn?.();
      wakeup.fn = null;
      if (workerError) break;
      // The launcher is its own thread in the sketch: let the worker run between chunks.
      await new Promise<void>((r) => setImmediate(r));
    }
  } finally {
    launcherDone = true;
    wakeup.fn?.();
    await worker;
    await device.synchronize().catch(() => undefined);
    for (const r of [...doneDecode, ...doneD2h, ...vram, ...host, computeStream, copyStream]) r.close();
  }
  if (workerError) throw workerError;
}
