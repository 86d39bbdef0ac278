// Calling the host stage, shared by the single- and the multi-device pipeline: a sink that
// throws synchronously rejects like one that returns a rejected promise, and a sink that has not
// settled after sinkTimeoutMs reports once through onTimeout (its promise may still settle later).
// An infinite sinkTimeoutMs sets no timer at all: Node's timers hold at most 2^31 - 1 ms and fire
// after 1 ms for anything longer, so the option's validation caps finite values below that.

/** The longest finite sinkTimeoutMs (ms): Node's timer limit, about 24.8 days. */
export const MAX_SINK_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Calls the sink. null when it returned without a promise (it is done: nothing to wait for and
 * nothing allocated); else its promise, with the sinkTimeoutMs timer attached. Throws what a
 * synchronous sink throws.
 */
export function startSink<C>(
  sink: (chunk: C) => void | Promise<void>,
  chunk: C,
  timeoutMs: number | undefined,
  onTimeout: (err: Error) => void,
): Promise<void> | null {
  const r = sink(chunk);
  if (!r || typeof (r as Promise<void>).then !== 'function') return null;
  const p = Promise.resolve(r);
  if (timeoutMs === undefined || timeoutMs === Infinity) return p;
  const timer = setTimeout(
    () =>
      onTimeout(
        new Error(`the sink did not settle within ${timeoutMs} ms (sinkTimeoutMs); make it faster or raise the limit`),
      ),
    timeoutMs,
  );
  return p.finally(() => clearTimeout(timer));
}

/** startSink as one promise, for callers that always wait. */
export function callSink<C>(
  sink: (chunk: C) => void | Promise<void>,
  chunk: C,
  timeoutMs: number | undefined,
  onTimeout: (err: Error) => void,
): Promise<void> {
  try {
    return startSink(sink, chunk, timeoutMs, onTimeout) ?? Promise.resolve();
  } catch (err) {
    return Promise.reject(err);
  }
}
