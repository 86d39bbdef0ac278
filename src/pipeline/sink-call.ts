// Calling the host stage, shared by the single- and the multi-device pipeline: a sink that
// throws synchronously rejects like one that returns a rejected promise, and a sink that has not
// settled after sinkTimeoutMs reports once through onTimeout (its promise may still settle later).

export function callSink<C>(
  sink: (chunk: C) => void | Promise<void>,
  chunk: C,
  timeoutMs: number | undefined,
  onTimeout: (err: Error) => void,
): Promise<void> {
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(
          () => onTimeout(new Error(`the sink did not settle within ${timeoutMs} ms (sinkTimeoutMs); make it faster or raise the limit`)),
          timeoutMs,
        );
  let p: Promise<void>;
  try {
    p = Promise.resolve(sink(chunk));
  } catch (err) {
    p = Promise.reject(err);
  }
  return timer === undefined ? p : p.finally(() => clearTimeout(timer));
}
