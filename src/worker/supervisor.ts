// `tandem worker --devices …`: one child process per device, each a plain `tandem worker
// --device N` that owns its GPU for its whole life (one CUDA context per process, no sharing
// of the event loop between GPUs). The supervisor passes SIGTERM/SIGINT on, waits for every
// child, and starts again a child that died (a crash, a lost CUDA context, the OOM killer)
// unless it was stopping; a child that exits with a usage error (2) stops the lot.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface SupervisorOptions {
  /** One child per entry: the ordinal given to its --device. */
  ordinals: readonly number[];
  /** The child's arguments after `worker`, without --device/--devices. */
  args: readonly string[];
  /** Wait before starting a child again after it died (ms, default 1000). */
  restartDelayMs?: number;
  log?: (line: string) => void;
}

const CLI = fileURLToPath(new URL('../../../bin/tandem.js', import.meta.url));
const EXIT_USAGE = 2;

/** Runs the children until a signal stops them; resolves with the exit code for the supervisor. */
export function runSupervisor(o: SupervisorOptions): Promise<number> {
  const log = o.log ?? (() => {});
  const children = new Map<number, ChildProcess>();
  let stopping = false;
  let code = 0;
  return new Promise<number>((resolveAll) => {
    const finishIfDone = () => {
      if (stopping && children.size === 0) {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        resolveAll(code);
      }
    };
    const start = (slot: number) => {
      const ordinal = o.ordinals[slot]!;
      const child = spawn(process.execPath, [CLI, 'worker', ...o.args, '--device', String(ordinal)], {
        stdio: ['ignore', 'inherit', 'inherit'],
        // Its own process group: a terminal's Ctrl-C reaches the supervisor alone, which passes it on once.
        detached: true,
      });
      children.set(slot, child);
      log(`device ${ordinal}: worker process ${child.pid}`);
      child.on('exit', (exit, signal) => {
        children.delete(slot);
        if (stopping) {
          if (exit !== 0) code = exit ?? 1;
          return finishIfDone();
        }
        if (exit === EXIT_USAGE) {
          log(`device ${ordinal}: worker exited with a usage error; stopping all`);
          code = EXIT_USAGE;
          stopAll('SIGTERM');
          return finishIfDone();
        }
        log(`device ${ordinal}: worker ${child.pid} ended (${signal ?? `exit ${exit}`}); starting another`);
        setTimeout(() => {
          if (!stopping) start(slot);
          else finishIfDone();
        }, o.restartDelayMs ?? 1000).unref();
      });
    };
    const stopAll = (signal: NodeJS.Signals) => {
      stopping = true;
      for (const c of children.values()) c.kill(signal);
    };
    // The first signal asks each child for a graceful stop; a second one is passed on too (hand the jobs back now).
    const onSignal = (signal: NodeJS.Signals) => stopAll(signal);
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    o.ordinals.forEach((_, slot) => start(slot));
  });
}
