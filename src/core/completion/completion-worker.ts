// The thread behind the worker waiter (worker-waiter.ts). It receives event handles over a
// MessagePort, polls them with cuEventQuery in a synchronous loop (its own event loop never
// runs) and posts [id, CUresult] back.
// Polling instead of cuEventSynchronize: blocking on one event would delay the news of another
// stream's event that completes first (a copy finishing while a long kernel still runs).
// It is JavaScript source run with `eval: true` rather than a module file, so it starts the same
// way compiled (dist/) and under tsx (tests, benches), with no loader in the worker.
//
// workerData: { koffiPath, libraryPath, ctx, port, signal }. signal[0] wakes the worker;
// signal[1] set means stop (a flag rather than a message: a message can be lost when the main
// thread closes its port right after posting it). Once koffi and the driver are loaded it posts
// { ready }: until then the main thread keeps the process alive for it, since a worker stopped
// by the process exiting while inside koffi.load aborts the whole process.
// Spins for SPIN_MS after the last activity, then sleeps SLEEP_MS between rounds; with nothing
// pending it sleeps until the main thread signals.
export const COMPLETION_WORKER_SOURCE = String.raw`
'use strict';
const { receiveMessageOnPort, workerData } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const CUDA_ERROR_NOT_READY = 600;
const SPIN_MS = 2;
const SLEEP_MS = 0.05;
const port = workerData.port;
const signal = new Int32Array(workerData.signal);
const lib = koffi.load(workerData.libraryPath);
const cuCtxSetCurrent = lib.func('int cuCtxSetCurrent(void *ctx)');
const cuEventQuery = lib.func('int cuEventQuery(void *hEvent)');
const rc = cuCtxSetCurrent(workerData.ctx);
port.postMessage(rc === 0 ? { ready: true } : { fatal: rc });
const pending = new Map();
let lastActivity = performance.now();
for (;;) {
  Atomics.store(signal, 0, 0);
  if (Atomics.load(signal, 1) !== 0) break;
  for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
    pending.set(m.message.id, m.message.event);
    lastActivity = performance.now();
  }
  for (const [id, event] of pending) {
    const r = cuEventQuery(event);
    if (r !== CUDA_ERROR_NOT_READY) {
      pending.delete(id);
      port.postMessage([id, r]);
      lastActivity = performance.now();
    }
  }
  if (pending.size === 0) Atomics.wait(signal, 0, 0);
  else if (performance.now() - lastActivity > SPIN_MS) Atomics.wait(signal, 0, 0, SLEEP_MS);
}
port.close();
`;
