// What every object the device makes (stream, event, device buffer, pinned or registered host
// memory, program) promises about its raw handle: released exactly once, by whichever comes
// first of close(), device.close() (which closes what is still open) and the finalizer (the
// object dropped unclosed); used after close(), it throws the one closed-resource UsageError,
// which says how to get a new one. Subclasses create the handle, hand it to own(), and free it
// in destroy().
import type { UsageError } from '../util/errors.js';
import { closedError } from './closed.js';
import type { DeviceContext } from './context.js';
import { unwatch, watch } from './finalizer.js';
import type { DeviceCore, Resource } from './types.js';

export abstract class CudaResource implements Resource {
  #closed = false;

  protected constructor(
    protected readonly owner: DeviceContext,
    /** The type named in the closed-resource error ('Stream', 'PinnedBuffer', …). */
    private readonly kindName: string,
    /** A name for traces and error messages. */
    readonly label: string,
  ) {}

  /**
   * Called once, as soon as the handle exists: from here on the finalizer releases it if this
   * object is dropped unclosed, and device.close() closes this object.
   */
  protected own(handle: bigint, release: (handle: bigint) => number): void {
    watch(this, { ctx: this.owner.ctx, handle, release }, this);
    this.owner.adopt(this);
  }

  /** Frees the handle; runs once, from close(), after the finalizer and the device let go. */
  protected abstract destroy(): void;

  get device(): DeviceCore {
    return this.owner.device;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The closed-resource UsageError, for a caller that reports it rather than throws it. */
  protected closedError(): UsageError {
    return closedError(this.kindName, this.label);
  }

  /** Throws the closed-resource UsageError after close(). */
  protected assertOpen(): void {
    if (this.#closed) throw this.closedError();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    unwatch(this);
    this.owner.release(this);
    this.destroy();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
