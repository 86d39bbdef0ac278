// A sink is the pipeline's host stage as an object: write(chunk) is PipelineOptions.sink (bound,
// so `sink: mySink.write` works), close() finalises the output once the run is over, abort()
// finalises what it can after a failure or Ctrl-C (an mp4 stays playable).
import type { OutputChunk } from '../pipeline/types.js';

/** What a sink wrote: where, how many bytes, frames and chunks, and how long it was busy. */
export interface SinkResult {
  /** Where the output went: a file, a directory, or a description. */
  target: string;
  bytes: number;
  frames: number;
  chunks: number;
  /** Time spent inside write() calls, summed (ms): the sink's own busy time. */
  busyMs: number;
}

/** A host stage for a pipeline: write() takes each chunk in order; close() finishes and reports. */
export interface Sink<I = unknown> {
  readonly name: string;
  /** The PipelineOptions.sinkConcurrency this sink is built for. */
  readonly concurrency: number;
  /** PipelineOptions.sink. The pinned slot stays the sink's until the promise settles. */
  readonly write: (chunk: OutputChunk<I>) => Promise<void>;
  close(): Promise<SinkResult>;
  abort(reason?: unknown): Promise<void>;
  /** Progress so far. */
  stats(): SinkResult;
}
