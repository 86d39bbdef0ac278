// The device as users hold it: the object model (DeviceCore) plus pipeline(). The real device
// (open()) and the fake one (tandem/testing) both implement Device, so code written against it
// runs on either. It lives here, above core, because pipeline() builds a Pipeline.
import { CudaDeviceCore } from '../core/device.js';
import type { DeviceCore } from '../core/types.js';
import { createPipeline, type Pipeline } from './pipeline.js';
import type { PipelineOptions } from './types.js';

/** A GPU (or the fake one) that can also run overlap pipelines. */
export interface Device extends DeviceCore {
  /** The overlap pipeline on this device: `createPipeline(this, options)`. */
  pipeline<I = number>(options: PipelineOptions<I>): Pipeline<I>;
}

/** One NVIDIA GPU through its primary context; `open(ordinal)` makes one. */
export class CudaDevice extends CudaDeviceCore implements Device {
  pipeline<I = number>(options: PipelineOptions<I>): Pipeline<I> {
    return createPipeline(this, options);
  }
}

/**
 * Opens CUDA device `ordinal` (default 0): retains its primary context and starts its event
 * waiter. Throws LibraryNotFoundError without a driver, UsageError for an ordinal out of range.
 * close() (or `using`) releases it and everything made from it.
 */
export async function open(ordinal = 0): Promise<CudaDevice> {
  return new CudaDevice(ordinal);
}
