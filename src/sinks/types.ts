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
  /**
   * A file sink's output on disk once it was closed or aborted (see staging.ts): the final name and `complete` after
   * close(), the partial name after abort(), null when nothing was kept. Bytes are the file's size on disk (a video's
   * is not the bytes sent to the encoder). Absent while the run is going and for sinks that write no file.
   */
  file?: {
    path: string;
    bytes: number;
    complete: boolean;
    /** A partial the writer still closed properly (ffmpeg wrote its trailer: the video plays). */
    finalized?: boolean;
  } | null;
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
  /**
   * For a process about to exit before abort() could finish (a second Ctrl-C): synchronously keeps what was written
   * under the partial name and returns it (null when nothing was kept). File sinks only.
   */
  abandon?(): string | null;
  /** Progress so far. */
  stats(): SinkResult;
}
