// What the queue benchmarks share: a free port on 127.0.0.1 for their redis-server, and waiting
// for a child process (redis-server, `tandem worker`) to say it is ready.
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that nothing listened on a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once `proc` printed `text` on `stream`; rejects with what it printed if it exits first. */
export async function waitLine(proc: ChildProcess, stream: 'stdout' | 'stderr', text: string): Promise<void> {
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`exited (${code}) before '${text}':\n${seen}`)));
    proc[stream]!.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) resolve();
    });
  });
}
