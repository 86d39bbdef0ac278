// The errors every layer shares. Each error tandem throws on purpose is a TandemError: `code` is
// a stable string a program can switch on (the CUDA or NVRTC name where the driver gave one), and
// the message says what failed and what the caller should change.

/** Base class of tandem's errors: `code` is stable across releases, the message is for people. */
export class TandemError extends Error {
  override readonly name: string = 'TandemError';
  constructor(
    /** A stable machine-readable code, e.g. 'USAGE', 'ABORT', 'CUDA_ERROR_OUT_OF_MEMORY'. */
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A resource used after close(), or a value the caller must change (code 'USAGE'). */
export class UsageError extends TandemError {
  override readonly name: string = 'UsageError';
  constructor(message: string, options?: ErrorOptions) {
    super('USAGE', message, options);
  }
}

/**
 * A run or command stopped on request (close() during a run, an abort signal without an Error
 * reason, Ctrl-C). Its `name` is 'AbortError', like the DOMException an AbortSignal gives, so
 * `err.name === 'AbortError'` recognises every cancellation whatever built it.
 */
export class AbortError extends TandemError {
  override readonly name: string = 'AbortError';
  constructor(message = 'the operation was aborted', options?: ErrorOptions) {
    super('ABORT', message, options);
  }
}

/** The error for a run stopped by `signal`: the signal's own reason when it has one. */
export function abortReason(signal: AbortSignal, message: string): unknown {
  return signal.reason !== undefined ? signal.reason : new AbortError(message);
}
