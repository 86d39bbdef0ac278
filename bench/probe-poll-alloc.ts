// What does the completion poll allocate per completion, with no GPU? (experiment, CPU)
// A stand-in libcuda (compiled here from a few lines of C, as test/core-worker-waiter.test.ts
// does) whose events complete PERIOD_US after they are armed; a chain of waits, each armed when
// the previous one completes, as a pipeline's copies complete one stage time apart. V8's sampling
// heap profiler counts what the waiter's event-loop rounds allocate (the GPU-side counterpart is
// bench/probe-alloc.ts).
//   node --import tsx bench/probe-poll-alloc.ts        Env: PERIODS=160,80,20 (µs)  N=5000
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Driver } from '../src/cuda/driver.js';
import { WorkerWaiter } from '../src/core/completion/worker-waiter.js';

const C_SOURCE = `
#include <stdint.h>
#include <time.h>
static int64_t deadline[64];
static int64_t now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }
int cuCtxSetCurrent(void *ctx) { (void)ctx; return 0; }
int cuEventQuery(void *event) { return now_ns() >= deadline[(uintptr_t)event & 63] ? 0 : 600; }
void fake_after(uint64_t event, int64_t ns) { deadline[event & 63] = now_ns() + ns; }
`;
const dir = mkdtempSync(join(tmpdir(), 'tandem-poll-alloc-'));
const libraryPath = join(dir, 'libfakecuda.so');
writeFileSync(join(dir, 'fake.c'), C_SOURCE);
execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', libraryPath, join(dir, 'fake.c')]);
const koffi = createRequire(import.meta.url)('koffi');
const lib = koffi.load(libraryPath);
const arm: (event: bigint, ns: number) => void = lib.func('void fake_after(uint64_t event, int64_t ns)');
const driver = { libraryPath, cuEventQuery: lib.func('int cuEventQuery(void *hEvent)') } as unknown as Driver;
const waiter = new WorkerWaiter(driver, 0n);

const chain = (n: number, periodNs: number) =>
  new Promise<void>((resolve, reject) => {
    let k = 0;
    const next = () => {
      if (++k > n) return resolve();
      const event = BigInt(k & 63);
      arm(event, periodNs);
      waiter.watch({ event, resolve: next, reject });
    };
    next();
  });

interface ProfileNode {
  selfSize: number;
  children: ProfileNode[];
}
const N = Number(process.env.N ?? 5000);
const session = new Session();
session.connect();
for (const us of (process.env.PERIODS ?? '160,80,20').split(',').map(Number)) {
  await chain(1000, us * 1000); // warm: JIT, the round's query budget
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 128,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  const t0 = performance.now();
  await chain(N, us * 1000);
  const ms = performance.now() - t0;
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as {
    profile: { head: ProfileNode };
  };
  let total = 0;
  const walk = (node: ProfileNode) => {
    total += node.selfSize;
    node.children.forEach(walk);
  };
  walk(profile.head);
  process.stdout.write(
    `period ${us} µs: ${(total / N).toFixed(0)} B allocated per completion, ${((ms * 1000) / N).toFixed(1)} µs per completion (profiler on)\n`,
  );
}
waiter.close(new Error('probe done'));
