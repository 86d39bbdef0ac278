// The peers of tandem bench, all started (and their imports done, in parallel) before the sweep.
// The stream peers (torch-sketch, cupy-streams) are the sweep's SweepPeers: one server process
// each for the whole bench, prepared per (size, ratio) cell, one run each right after every
// untraced tandem run. A peer that fails is dropped from later cells with its reason; the others
// and tandem carry on. The batch peer (torch-habit) waits, imported, for its config after the sweep.
import type { PeerStatus } from './results.js';
import { PeerServer, type PeerAlone } from './peer-server.js';
import { PEERS, type PeerConfig, type PeerOutcome, type PeerSpec } from './peers.js';
import type { SweepPeers } from './sweep.js';

export interface InterleavedPeers extends SweepPeers {
  /** Each stream peer's status once the sweep is over. */
  status(): PeerStatus[];
  /** Runs the batch peers (torch-habit) on `config`, one after the other. */
  batch(config: PeerConfig): Promise<{ spec: PeerSpec; outcome: PeerOutcome }[]>;
  close(): Promise<void>;
}

export async function startPeers(
  device: number,
  options: { warmupChunks: number; log: (line: string) => void; python?: string; dir?: string },
): Promise<InterleavedPeers> {
  // Their imports (torch: seconds each) overlap each other; the sweep has not started yet.
  const all = await Promise.all(
    PEERS.map((s) => PeerServer.start(s, device, { log: options.log, python: options.python, dir: options.dir })),
  );
  const servers = all.filter((s) => s.spec.perDepth);
  const batchServers = all.filter((s) => !s.spec.perDepth);
  const alone = new Map<string, PeerAlone>();
  const usable = () => servers.filter((s) => !s.failure);
  for (const s of servers) if (s.failure) options.log(`peer ${s.spec.name}: ${s.failure.status} (${s.failure.reason})`);
  return {
    async prepare(cell) {
      alone.clear();
      const { kernel, ...launch } = cell.launch;
      for (const s of usable()) {
        try {
          // No stages alone in the peer: its efficiency is taken against tandem's ideal of the
          // cell (seconds saved per cell, and one ideal for every column of the row).
          alone.set(
            s.spec.name,
            await s.prepare(
              { key: cell.key, chunkBytes: cell.chunkBytes, chunks: cell.chunks, launch },
              kernel,
              options.warmupChunks,
              false,
            ),
          );
        } catch (err) {
          options.log(`peer ${s.spec.name} failed preparing ${cell.key}: ${(err as Error).message}; not run again`);
        }
      }
    },
    async run(depth, skip) {
      const walls: Record<string, number> = {};
      for (const s of usable()) {
        if (!alone.has(s.spec.name) || skip?.has(s.spec.name)) continue;
        try {
          walls[s.spec.name] = await s.run(depth);
        } catch (err) {
          options.log(`peer ${s.spec.name} failed at depth ${depth}: ${(err as Error).message}; not run again`);
        }
      }
      return walls;
    },
    alone: (name) => alone.get(name),
    status: () =>
      servers.map((s) => ({
        name: s.spec.name,
        description: s.spec.description,
        status: s.failure ? s.failure.status : 'ok',
        ...(s.failure ? { reason: s.failure.reason } : {}),
      })),
    async batch(config) {
      const out: { spec: PeerSpec; outcome: PeerOutcome }[] = [];
      for (const s of batchServers) {
        options.log(`peer ${s.spec.name}: running`);
        out.push({ spec: s.spec, outcome: await s.batch(config) });
      }
      return out;
    },
    async close() {
      await Promise.all(all.map((s) => s.close()));
    },
  };
}
