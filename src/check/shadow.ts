// Shadow state of one buffer: for each byte range, the last write and the reads since, each
// stamped with the (actor, time) of the operation. A range is split only where accesses differ,
// so a buffer that is always used whole stays a single segment.
import { orderedBefore } from './clock.js';
import { HazardError, classify, type HazardKind, type OpInfo } from './errors.js';

export interface Access {
  readonly actor: number;
  readonly time: number;
  readonly op: OpInfo;
  /** The buffer's holder when it happened (see reissue()). */
  readonly gen?: number;
}

interface Segment {
  start: number;
  end: number;
  write: Access | null;
  /** The latest read by each actor since `write` (an actor's earlier reads are ordered before it). */
  reads: Access[];
}

/** Copies and host steps read data that belongs to a chunk; kernels may read any chunk's state on purpose. */
const CHUNK_CHECKED_READERS = new Set<OpInfo['kind']>(['host', 'd2h', 'd2d', 'h2h']);

export class BufferShadow {
  private segments: Segment[];
  /** Bumped each time a pool hands the buffer out: accesses of an earlier holder are the pool's to order. */
  private generation = 0;
  constructor(
    readonly label: string,
    readonly kind: 'device' | 'pinned',
    readonly byteLength: number,
  ) {
    this.segments = [{ start: 0, end: Math.max(byteLength, 1), write: null, reads: [] }];
  }

  /** The first hazard `access` of [start, end) by an actor with `clock` would cause, or null. */
  check(
    access: 'read' | 'write',
    start: number,
    end: number,
    clock: readonly number[],
    op: OpInfo,
  ): HazardError | null {
    for (const seg of this.range(start, end)) {
      const w = seg.write;
      if (w && !orderedBefore(w.actor, w.time, clock)) {
        return this.hazard(access === 'write' ? 'write-after-write' : 'read-after-write', w, op);
      }
      if (access === 'write') {
        for (const r of seg.reads) {
          if (!orderedBefore(r.actor, r.time, clock)) return this.hazard('write-after-read', r, op);
        }
      } else if (
        w &&
        CHUNK_CHECKED_READERS.has(op.kind) &&
        op.chunk !== null &&
        w.op.chunk !== null &&
        w.op.chunk !== op.chunk &&
        w.op.kind !== 'host'
      ) {
        return this.hazard('overwritten-before-read', w, op);
      }
    }
    return null;
  }

  /** A pool handed the buffer to a new holder: what the last one did must be ordered before its first access. */
  reissue(): void {
    this.generation++;
  }

  commit(access: 'read' | 'write', start: number, end: number, stamp: Access): void {
    if (this.generation > 0) stamp = { ...stamp, gen: this.generation };
    for (const seg of this.range(start, end)) {
      if (access === 'write') {
        seg.write = stamp;
        seg.reads = [];
      } else {
        const k = seg.reads.findIndex((r) => r.actor === stamp.actor);
        if (k >= 0) seg.reads[k] = stamp;
        else seg.reads.push(stamp);
      }
    }
    this.coalesce();
  }

  private hazard(kind: HazardKind, earlier: Access, later: OpInfo): HazardError {
    if ((earlier.gen ?? 0) < this.generation) {
      const advice =
        `the device pool handed the buffer out again before the fence of its last use completed: ` +
        `acquire it only once every fence isDone(), or for a device buffer pass the stream that first uses it (a GPU-side wait)`;
      return new HazardError(this.label, this.kind, kind, earlier.op, later, null, advice, true);
    }
    const { barrier, advice } = classify(this.kind, kind, earlier.op, later);
    return new HazardError(this.label, this.kind, kind, earlier.op, later, barrier, advice);
  }

  /** The segments covering [start, end), split at its edges. */
  private range(start: number, end: number): Segment[] {
    const lo = Math.max(0, start);
    const hi = Math.max(lo + 1, Math.min(end, this.segments[this.segments.length - 1]!.end));
    // The common case: one segment, the whole buffer.
    if (this.segments.length === 1 && lo === 0 && hi === this.segments[0]!.end) return this.segments;
    this.splitAt(lo);
    this.splitAt(hi);
    return this.segments.filter((s) => s.start >= lo && s.end <= hi);
  }

  private splitAt(at: number): void {
    const k = this.segments.findIndex((s) => s.start < at && at < s.end);
    if (k < 0) return;
    const s = this.segments[k]!;
    this.segments.splice(k, 1, { ...s, end: at, reads: [...s.reads] }, { ...s, start: at, reads: [...s.reads] });
  }

  private coalesce(): void {
    if (this.segments.length === 1) return;
    const out: Segment[] = [this.segments[0]!];
    for (let k = 1; k < this.segments.length; k++) {
      const prev = out[out.length - 1]!;
      const s = this.segments[k]!;
      if (prev.write === s.write && sameReads(prev.reads, s.reads)) prev.end = s.end;
      else out.push(s);
    }
    this.segments = out;
  }
}

function sameReads(a: readonly Access[], b: readonly Access[]): boolean {
  return a.length === b.length && a.every((r) => b.includes(r));
}
