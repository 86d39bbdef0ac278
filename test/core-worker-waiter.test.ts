// The default event waiter ('worker') without a GPU: a stand-in libcuda, compiled here from a few
// lines of C, exports cuCtxSetCurrent and cuEventQuery over a table of event states that the test
// sets. The waiter's event-loop rounds and its worker thread both load that library (koffi), so
// this runs the real spin phase, the hot rounds, the hand-over to the thread and back.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SPIN_MS, WorkerWaiter } from '../src/core/completion/worker-waiter.js';
import type { PendingWait } from '../src/core/completion/sweep.js';
import { CudaError } from '../src/cuda/errors.js';

const C_SOURCE = `
#include <stdint.h>
static volatile int state[64];
int cuCtxSetCurrent(void *ctx) { (void)ctx; return 0; }
int cuEventQuery(void *event) { return state[(uintptr_t)event & 63]; }
void fake_set(uint64_t event, int rc) { state[event & 63] = rc; }
`;
const NOT_READY = 600;

/**
 * The same library, loading slowly as a large libcuda does: its constructor creates the file
 * named by TANDEM_TEST_LOADING (so a test knows the load has begun), then sleeps.
 */
const SLOW_LOAD_SOURCE = `${C_SOURCE}
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((constructor)) static void slow_load(void) {
  const char *mark = getenv("TANDEM_TEST_LOADING");
  if (mark) { FILE *f = fopen(mark, "w"); if (f) fclose(f); }
  usleep(300 * 1000);
}
`;

function build(): { libraryPath: string; slowPath: string } | { skip: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-fake-libcuda-'));
  // The library stays loaded (and mapped) after its file is gone, in this thread and the waiter's.
  after(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, 'fake-libcuda.c');
  const lib = join(dir, 'libfakecuda.so');
  const slowSrc = join(dir, 'slow-libcuda.c');
  const slow = join(dir, 'libslowcuda.so');
  writeFileSync(src, C_SOURCE);
  writeFileSync(slowSrc, SLOW_LOAD_SOURCE);
  try {
    execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', lib, src], { stdio: 'pipe' });
    execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', slow, slowSrc], { stdio: 'pipe' });
  } catch (err) {
    return {
      skip: `no C compiler to build the stand-in libcuda (apt-get install gcc): ${(err as Error).message.split('\n')[0]}`,
    };
  }
  return { libraryPath: lib, slowPath: slow };
}

const built = build();
const skip = 'skip' in built ? built.skip : false;
if (skip) console.log(`# skipping worker-waiter tests: ${skip}`);

function fakeDriver() {
  const koffi = createRequire(import.meta.url)('koffi');
  const lib = koffi.load((built as { libraryPath: string }).libraryPath);
  const set: (event: bigint, rc: number) => void = lib.func('void fake_set(uint64_t event, int rc)');
  const driver = {
    libraryPath: (built as { libraryPath: string }).libraryPath,
    cuEventQuery: lib.func('int cuEventQuery(void *hEvent)'),
  };
  return { driver, set };
}

const turns = (n: number) =>
  new Promise<void>((resolve) => {
    let k = 0;
    const go = () => (++k >= n ? resolve() : setImmediate(go));
    setImmediate(go);
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function watcher(event: bigint, log: string[], name: string): PendingWait {
  return {
    event,
    resolve: () => log.push(`done ${name}`),
    reject: (err) => log.push(`fail ${name} ${(err as CudaError).cudaName ?? err.message}`),
  };
}

test('worker waiter: watch() calls back once, soon after the event completes', { skip }, async () => {
  const { driver, set } = fakeDriver();
  const waiter = new WorkerWaiter(driver as never, 0n);
  try {
    set(1n, NOT_READY);
    const log: string[] = [];
    waiter.watch(watcher(1n, log, 'a'));
    await turns(20);
    assert.deepEqual(log, []);
    assert.equal(waiter.pending, 1);
    set(1n, 0);
    // On the loop (spin phase) or, if the start was slow, from the thread: either way, soon.
    const t0 = performance.now();
    while (log.length === 0 && performance.now() - t0 < 5000) await turns(1);
    assert.deepEqual(log, ['done a']);
    await turns(20);
    assert.deepEqual(log, ['done a'], 'called back once');
    assert.equal(waiter.pending, 0);
  } finally {
    waiter.close(new Error('test over'));
  }
});

test(
  'worker waiter: a callback may start the next wait from inside the round; a chain of 200 completes in order',
  { skip },
  async () => {
    const { driver, set } = fakeDriver();
    const waiter = new WorkerWaiter(driver as never, 0n);
    try {
      const order: number[] = [];
      const done = new Promise<void>((resolve, reject) => {
        let n = 0;
        const next = (): void => {
          const event = BigInt(2 + (n % 2));
          set(event, NOT_READY);
          const mine = n;
          waiter.watch({
            event,
            resolve: () => {
              order.push(mine);
              if (++n === 200) resolve();
              else next();
            },
            reject,
          });
          // Complete it a little later, from a timer or at once, in turns.
          if (mine % 3 === 0) set(event, 0);
          else setImmediate(() => set(event, 0));
        };
        next();
      });
      await done;
      assert.deepEqual(
        order,
        Array.from({ length: 200 }, (_, k) => k),
      );
    } finally {
      waiter.close(new Error('test over'));
    }
  },
);

test(
  'worker waiter: an idle wait moves to the worker thread and still completes; a fault rejects with its CUDA name',
  { skip, timeout: 20_000 },
  async () => {
    const { driver, set } = fakeDriver();
    const waiter = new WorkerWaiter(driver as never, 0n);
    try {
      set(4n, NOT_READY);
      set(5n, NOT_READY);
      const log: string[] = [];
      waiter.watch(watcher(4n, log, 'slow'));
      const faulted = waiter.wait(5n);
      faulted.catch(() => {});
      // Longer than the spin phase: both waits are on the worker thread by now.
      await sleep(SPIN_MS * 6);
      assert.deepEqual(log, []);
      assert.equal(waiter.pending, 2);
      set(4n, 0);
      set(5n, 700);
      const t0 = performance.now();
      while (log.length === 0 && performance.now() - t0 < 5000) await sleep(1);
      assert.deepEqual(log, ['done slow']);
      await assert.rejects(
        faulted,
        (e: unknown) => e instanceof CudaError && e.cudaName === 'CUDA_ERROR_ILLEGAL_ADDRESS',
      );
      // Back to the event loop for the next wait: done within a few turns.
      set(6n, NOT_READY);
      waiter.watch(watcher(6n, log, 'next'));
      set(6n, 0);
      const t1 = performance.now();
      while (log.length < 2 && performance.now() - t1 < 5000) await turns(1);
      assert.deepEqual(log, ['done slow', 'done next']);
    } finally {
      waiter.close(new Error('test over'));
    }
  },
);

test(
  'worker waiter: close() fails what is pending, on the loop and on the thread, and every later wait',
  { skip },
  async () => {
    const { driver, set } = fakeDriver();
    const waiter = new WorkerWaiter(driver as never, 0n);
    set(7n, NOT_READY);
    set(8n, NOT_READY);
    const log: string[] = [];
    waiter.watch(watcher(8n, log, 'thread'));
    await sleep(SPIN_MS * 6); // 8 is on the worker thread now
    waiter.watch(watcher(7n, log, 'loop'));
    waiter.close(new Error('device closed'));
    await turns(3);
    assert.deepEqual(log.sort(), ['fail loop device closed', 'fail thread device closed']);
    waiter.watch(watcher(7n, log, 'late'));
    await assert.rejects(waiter.wait(7n), /device closed/);
    await turns(3);
    assert.ok(log.includes('fail late device closed'));
  },
);

test(
  'worker waiter: a process that ends while the worker is still loading the driver waits for it and exits cleanly',
  { skip, timeout: 60_000 },
  async () => {
    // Each child process loads the stand-in on its main thread and hands the waiter the slow copy;
    // its script ends once the worker is inside koffi.load of that copy. A worker stopped by the
    // process exiting at that moment aborts the process (napi_throw in a terminating thread).
    const { libraryPath, slowPath } = built as { libraryPath: string; slowPath: string };
    const waiterModule = new URL('../src/core/completion/worker-waiter.js', import.meta.url).href;
    const script = (closeIt: boolean) => `
      import { createRequire } from 'node:module';
      import { WorkerWaiter } from ${JSON.stringify(waiterModule)};
      const koffi = createRequire(import.meta.url)('koffi');
      const lib = koffi.load(${JSON.stringify(libraryPath)});
      const driver = { libraryPath: ${JSON.stringify(slowPath)}, cuEventQuery: lib.func('int cuEventQuery(void *hEvent)') };
      const waiter = new WorkerWaiter(driver, 0n);
      ${closeIt ? "waiter.close(new Error('closed at once'));" : '// left open: the process must still end'}
      const { existsSync } = await import('node:fs');
      for (let i = 0; i < 2000 && !existsSync(process.env.TANDEM_TEST_LOADING); i++) await new Promise((r) => setTimeout(r, 5));
      // The worker never began loading (it could not start under this process's flags): exit 3.
      if (!existsSync(process.env.TANDEM_TEST_LOADING)) process.exitCode = 3;
    `;
    const mark = join(tmpdir(), `tandem-waiter-loading-${process.pid}`);
    for (const closeIt of [true, false]) {
      rmSync(mark, { force: true });
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script(closeIt)], {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        env: { ...process.env, TANDEM_TEST_LOADING: mark },
        encoding: 'utf8',
        timeout: 20_000,
      });
      rmSync(mark, { force: true });
      const what = closeIt ? 'closed at once' : 'left open';
      assert.equal(child.signal, null, `${what}: killed by ${child.signal}; stderr: ${child.stderr}`);
      assert.equal(child.status, 0, `${what}: exit ${child.status}; stderr: ${child.stderr}`);
      assert.doesNotMatch(child.stderr, /FATAL/);
    }
  },
);
