import { TandemError } from '../util/errors.js';

// Errors of the raw layer. Every CUDA failure becomes a CudaError whose message starts with the
// driver's own name for the code, then what it means and what to do, then the call and context:
//   CUDA_ERROR_OUT_OF_MEMORY: out of memory (cuMemAlloc_v2, 96 GiB asked, 79.1 GiB free)

/** Names and short meanings of the driver result codes tandem meets; the driver's own
 * cuGetErrorName is used when it is loaded, this table when it is not (and for tests). */
export const CUDA_RESULT_NAMES: Readonly<Record<number, string>> = {
  0: 'CUDA_SUCCESS',
  1: 'CUDA_ERROR_INVALID_VALUE',
  2: 'CUDA_ERROR_OUT_OF_MEMORY',
  3: 'CUDA_ERROR_NOT_INITIALIZED',
  4: 'CUDA_ERROR_DEINITIALIZED',
  34: 'CUDA_ERROR_STUB_LIBRARY',
  46: 'CUDA_ERROR_DEVICE_UNAVAILABLE',
  100: 'CUDA_ERROR_NO_DEVICE',
  101: 'CUDA_ERROR_INVALID_DEVICE',
  200: 'CUDA_ERROR_INVALID_IMAGE',
  201: 'CUDA_ERROR_INVALID_CONTEXT',
  209: 'CUDA_ERROR_NO_BINARY_FOR_GPU',
  218: 'CUDA_ERROR_INVALID_PTX',
  222: 'CUDA_ERROR_UNSUPPORTED_PTX_VERSION',
  400: 'CUDA_ERROR_INVALID_HANDLE',
  500: 'CUDA_ERROR_NOT_FOUND',
  600: 'CUDA_ERROR_NOT_READY',
  700: 'CUDA_ERROR_ILLEGAL_ADDRESS',
  701: 'CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES',
  702: 'CUDA_ERROR_LAUNCH_TIMEOUT',
  712: 'CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED',
  713: 'CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED',
  715: 'CUDA_ERROR_ILLEGAL_INSTRUCTION',
  716: 'CUDA_ERROR_MISALIGNED_ADDRESS',
  719: 'CUDA_ERROR_LAUNCH_FAILED',
  999: 'CUDA_ERROR_UNKNOWN',
};

/** What to do about a code, where there is something to say beyond the driver's string. */
const ADVICE: Readonly<Record<string, string>> = {
  CUDA_ERROR_OUT_OF_MEMORY: 'free device memory or use smaller chunks / a shallower ring',
  CUDA_ERROR_ILLEGAL_ADDRESS:
    'a kernel accessed memory outside its buffers; the CUDA context is lost and every later call on it fails: ' +
    'close the device and open it again (or restart the process)',
  CUDA_ERROR_LAUNCH_FAILED: 'the CUDA context is lost: close the device and open it again',
  CUDA_ERROR_ILLEGAL_INSTRUCTION: 'the CUDA context is lost: close the device and open it again',
  CUDA_ERROR_MISALIGNED_ADDRESS: 'the CUDA context is lost: close the device and open it again',
  CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: 'use a smaller block or fewer registers / less shared memory',
  CUDA_ERROR_NO_DEVICE: 'no CUDA-capable GPU is visible; check CUDA_VISIBLE_DEVICES and nvidia-smi',
  CUDA_ERROR_INVALID_DEVICE: 'the ordinal is out of range; `tandem info` lists the devices',
  CUDA_ERROR_NO_BINARY_FOR_GPU: 'the cubin was built for another architecture; clear TANDEM_CACHE_DIR',
  CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
    'NVRTC is newer than the driver; point TANDEM_NVRTC_PATH at an older NVRTC or update the driver',
};

/** Codes after which the context cannot be used again. */
export const STICKY_CODES: ReadonlySet<number> = new Set([700, 715, 716, 719]);

export function cudaResultName(code: number): string {
  return CUDA_RESULT_NAMES[code] ?? `CUDA_ERROR_${code}`;
}

/** A CUDA driver call failed: `code` and `cudaName` are the driver's name for the result. */
export class CudaError extends TandemError {
  override readonly name: string = 'CudaError';
  /** True when the context is lost (illegal address and friends): reopen the device. */
  readonly sticky: boolean;
  constructor(
    /** The driver's numeric CUresult. */
    readonly result: number,
    /** The driver's name for the result, e.g. CUDA_ERROR_ILLEGAL_ADDRESS (also `code`). */
    readonly cudaName: string,
    /** The driver call that failed, e.g. cuMemAlloc_v2. */
    readonly call: string,
    description: string,
    detail?: string,
  ) {
    const advice = ADVICE[cudaName];
    const ctx = [call, detail].filter(Boolean).join(', ');
    super(cudaName, `${cudaName}: ${description}${ctx ? ` (${ctx})` : ''}${advice ? `; ${advice}` : ''}`);
    this.sticky = STICKY_CODES.has(result);
  }
}

/** NVRTC failed to compile a program: `code` is NVRTC's name for the result, `log` the compiler's. */
export class NvrtcError extends TandemError {
  override readonly name: string = 'NvrtcError';
  constructor(
    /** NVRTC's numeric nvrtcResult. */
    readonly result: number,
    /** NVRTC's name for the result, e.g. NVRTC_ERROR_COMPILATION (also `code`). */
    readonly nvrtcName: string,
    readonly call: string,
    /** The compiler's log: the errors with file, line and column. */
    readonly log: string,
    detail?: string,
  ) {
    super(nvrtcName, `${nvrtcName} (${call}${detail ? `, ${detail}` : ''})${log.trim() ? `:\n${log.trim()}` : ''}`);
  }
}

/** A shared library (libcuda, NVRTC, NVML) could not be found; says what was searched. */
export class LibraryNotFoundError extends TandemError {
  override readonly name: string = 'LibraryNotFoundError';
  constructor(
    readonly library: 'cuda' | 'nvrtc' | 'nvml',
    readonly searched: readonly string[],
    readonly hint: string,
  ) {
    super(
      'LIBRARY_NOT_FOUND',
      `${library === 'cuda' ? 'No NVIDIA driver found' : `${library.toUpperCase()} not found`}: looked for ${searched.join(', ')}. ${hint}`,
    );
  }
}
