// HazardError: two accesses to one buffer that nothing orders, told in docs/design.md's words: the
// buffer, both operations (stage, chunk, stream), and the barrier that would order them.

import { TandemError } from '../util/errors.js';

export type OpKind = 'kernel' | 'memset' | 'h2d' | 'd2h' | 'd2d' | 'h2h' | 'host';

/** One side of a hazard: an operation on a stream, or a host step. */
export interface OpInfo {
  readonly kind: OpKind;
  readonly access: 'read' | 'write';
  /** The stream's label, or 'host'. */
  readonly where: string;
  /**
   * The pipeline chunk the operation belongs to, when tagged (LaunchOptions.chunk,
   * CopyOptions.chunk, a host label "chunk N").
   */
  readonly chunk: number | null;
  /** Kernel name, or the host step's label. */
  readonly name: string;
}

export type HazardKind = 'read-after-write' | 'write-after-read' | 'write-after-write' | 'overwritten-before-read';

/** docs/design.md's barriers 1–5, or null when the hazard is not one of the pipeline's. */
export type BarrierNumber = 1 | 2 | 3 | 4 | 5;

/** Two accesses to one buffer that nothing orders (code 'HAZARD'): both operations and the missing barrier. */
export class HazardError extends TandemError {
  override readonly name: string = 'HazardError';
  constructor(
    /** The buffer's label. */
    readonly buffer: string,
    readonly bufferKind: 'device' | 'pinned',
    readonly hazard: HazardKind,
    readonly earlier: OpInfo,
    readonly later: OpInfo,
    readonly barrier: BarrierNumber | null,
    /** What to add to order the two. */
    readonly advice: string,
    /** The earlier access was by the buffer's previous holder: a device pool reused it too soon. */
    readonly poolReuse = false,
  ) {
    super(
      'HAZARD',
      `hazard on ${bufferKind} buffer '${buffer}' (${hazard}): ${sentence(hazard, earlier, later)}: ${advice}`,
    );
  }
}

const STAGE: Record<OpKind, string> = {
  kernel: 'compute',
  memset: 'memset',
  h2d: 'H2D',
  d2h: 'D2H',
  d2d: 'D2D copy',
  h2h: 'host-to-host copy',
  host: 'the host',
};

/** "compute(5) [kernel 'fill' on stream 'compute']", "D2H(3) [stream 'copy']", "the host (sink take chunk 3)". */
export function describeOp(op: OpInfo): string {
  const chunk = op.chunk === null ? '' : `(${op.chunk})`;
  if (op.kind === 'host')
    return `the host${op.chunk === null ? '' : ` for chunk ${op.chunk}`}${op.name ? ` ('${op.name}')` : ''}`;
  const what = op.kind === 'kernel' ? `kernel '${op.name}' on stream '${op.where}'` : `stream '${op.where}'`;
  return `${STAGE[op.kind]}${chunk} [${what}]`;
}

function sentence(hazard: HazardKind, earlier: OpInfo, later: OpInfo): string {
  const e = describeOp(earlier);
  const l = describeOp(later);
  const verb = later.access === 'write' ? 'writes it' : 'reads it';
  switch (hazard) {
    case 'write-after-read':
      return `${l} ${verb} while ${e} may still read it`;
    case 'write-after-write':
      return `${l} ${verb} while ${e} may still write it`;
    case 'read-after-write':
      return `${l} ${verb} before ${e} is known to have written it`;
    case 'overwritten-before-read':
      return `${l} reads chunk ${later.chunk}, but ${e} already overwrote it with chunk ${earlier.chunk}`;
  }
}

const isWriteOnDevice = (k: OpKind): boolean => k === 'kernel' || k === 'memset' || k === 'h2d' || k === 'd2d';

/**
 * Names the missing barrier (docs/design.md, "The barriers, all of them") and what to add.
 * `earlier` is the access not ordered before `later`.
 */
export function classify(
  bufferKind: 'device' | 'pinned',
  hazard: HazardKind,
  earlier: OpInfo,
  later: OpInfo,
): { barrier: BarrierNumber | null; advice: string } {
  const E = earlier;
  const L = later;
  if (hazard === 'overwritten-before-read') {
    return {
      barrier: 3,
      advice: `enqueue ${describeOp(E)} only after the host stage released chunk ${L.chunk} of this slot (barrier 3)`,
    };
  }
  if (bufferKind === 'device') {
    if (E.kind === 'd2h' && L.access === 'write' && (L.kind === 'kernel' || L.kind === 'memset')) {
      return {
        barrier: 1,
        advice: `record an event on stream '${E.where}' after the copy and make stream '${L.where}' wait on it before writing (barrier 1)`,
      };
    }
    if ((E.kind === 'kernel' || E.kind === 'memset') && E.access === 'write' && L.kind === 'd2h') {
      return {
        barrier: 2,
        advice: `record an event on stream '${E.where}' after the kernels and make the copy stream '${L.where}' wait on it before the D2H (barrier 2)`,
      };
    }
    if (E.kind === 'h2d' && L.kind === 'kernel') {
      return {
        barrier: 5,
        advice: `record an event on stream '${E.where}' after the upload and make stream '${L.where}' wait on it before the kernel reads the input (barrier 5)`,
      };
    }
    if (E.kind === 'kernel' && L.kind === 'h2d') {
      return {
        barrier: 5,
        advice:
          `record an event on stream '${E.where}' after the kernels that read this input ` +
          `and make the upload stream '${L.where}' wait on it before overwriting the slot (barrier 5)`,
      };
    }
    if (E.kind === 'd2h' && isWriteOnDevice(L.kind)) {
      return {
        barrier: 1,
        advice: `record an event on stream '${E.where}' after the copy and make stream '${L.where}' wait on it before writing (barrier 1)`,
      };
    }
  } else {
    if (E.kind === 'd2h' && L.kind === 'host') {
      if (E.chunk !== null && L.chunk !== null && E.chunk > L.chunk) {
        return {
          barrier: 3,
          advice: `enqueue ${describeOp(E)} only after the host stage released chunk ${L.chunk} of this slot (barrier 3)`,
        };
      }
      return {
        barrier: 4,
        advice: `await completion() of an event recorded on stream '${E.where}' after the copy before the host reads the slot (barrier 4)`,
      };
    }
    if (E.kind === 'host' && L.kind === 'd2h') {
      return {
        barrier: 3,
        advice: `enqueue the D2H only after the host stage released the slot (barrier 3)`,
      };
    }
    if (E.kind === 'h2d' && L.kind === 'host') {
      return {
        barrier: 5,
        advice:
          `await completion() of an event recorded on stream '${E.where}' after the upload ` +
          `before the host refills the staging slot (barrier 5, host side)`,
      };
    }
  }
  if (L.kind === 'host') {
    return {
      barrier: null,
      advice:
        `record an event on stream '${E.where}' after that operation ` +
        `and await its completion() (or stream.synchronize()) before the host touches the buffer`,
    };
  }
  if (E.kind === 'host') {
    return {
      barrier: null,
      advice: `enqueue the work on stream '${L.where}' only after the host step is done with the buffer`,
    };
  }
  return {
    barrier: null,
    advice: `record an event on stream '${E.where}' after that operation and make stream '${L.where}' wait on it (stream.waitEvent) before this one`,
  };
}
