// The CUDA driver API as koffi functions, named as libcuda exports them (the _v2 names that
// cuda.h #defines the plain ones to). Bound on first use; every function returns a CUresult.
// Handles (CUcontext, CUstream, CUevent, CUmodule, CUfunction) are `void *` = BigInt; device
// addresses (CUdeviceptr) are uint64_t, which koffi returns as a number when small: use toPtr().
import { cudaResultName, CudaError } from './errors.js';
import { CUDA_SUCCESS } from './constants.js';
import { library } from './library.js';

const DECLARATIONS = {
  cuInit: 'int cuInit(unsigned int flags)',
  cuDriverGetVersion: 'int cuDriverGetVersion(_Out_ int *version)',
  cuGetErrorName: 'int cuGetErrorName(int error, _Out_ const char **pStr)',
  cuGetErrorString: 'int cuGetErrorString(int error, _Out_ const char **pStr)',
  cuDeviceGetCount: 'int cuDeviceGetCount(_Out_ int *count)',
  cuDeviceGet: 'int cuDeviceGet(_Out_ int *device, int ordinal)',
  cuDeviceGetName: 'int cuDeviceGetName(_Out_ uint8_t *name, int len, int dev)',
  cuDeviceGetAttribute: 'int cuDeviceGetAttribute(_Out_ int *pi, int attrib, int dev)',
  cuDeviceTotalMem_v2: 'int cuDeviceTotalMem_v2(_Out_ size_t *bytes, int dev)',
  cuDeviceGetPCIBusId: 'int cuDeviceGetPCIBusId(_Out_ uint8_t *pciBusId, int len, int dev)',
  cuDevicePrimaryCtxRetain: 'int cuDevicePrimaryCtxRetain(_Out_ void **pctx, int dev)',
  cuDevicePrimaryCtxRelease_v2: 'int cuDevicePrimaryCtxRelease_v2(int dev)',
  cuCtxSetCurrent: 'int cuCtxSetCurrent(void *ctx)',
  cuCtxSynchronize: 'int cuCtxSynchronize()',
  cuCtxGetStreamPriorityRange: 'int cuCtxGetStreamPriorityRange(_Out_ int *leastPriority, _Out_ int *greatestPriority)',
  cuStreamCreateWithPriority: 'int cuStreamCreateWithPriority(_Out_ void **phStream, unsigned int flags, int priority)',
  cuStreamDestroy_v2: 'int cuStreamDestroy_v2(void *hStream)',
  cuStreamWaitEvent: 'int cuStreamWaitEvent(void *hStream, void *hEvent, unsigned int flags)',
  cuStreamSynchronize: 'int cuStreamSynchronize(void *hStream)',
  cuStreamQuery: 'int cuStreamQuery(void *hStream)',
  cuEventCreate: 'int cuEventCreate(_Out_ void **phEvent, unsigned int flags)',
  cuEventRecord: 'int cuEventRecord(void *hEvent, void *hStream)',
  cuEventQuery: 'int cuEventQuery(void *hEvent)',
  cuEventSynchronize: 'int cuEventSynchronize(void *hEvent)',
  cuEventDestroy_v2: 'int cuEventDestroy_v2(void *hEvent)',
  cuMemAlloc_v2: 'int cuMemAlloc_v2(_Out_ uint64_t *dptr, size_t bytesize)',
  cuMemFree_v2: 'int cuMemFree_v2(uint64_t dptr)',
  cuMemsetD8Async: 'int cuMemsetD8Async(uint64_t dstDevice, uint8_t uc, size_t n, void *hStream)',
  cuMemHostAlloc: 'int cuMemHostAlloc(_Out_ void **pp, size_t bytesize, unsigned int flags)',
  cuMemFreeHost: 'int cuMemFreeHost(void *p)',
  cuMemHostRegister_v2: 'int cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int flags)',
  cuMemHostUnregister: 'int cuMemHostUnregister(void *p)',
  cuMemcpyHtoDAsync_v2: 'int cuMemcpyHtoDAsync_v2(uint64_t dstDevice, void *srcHost, size_t byteCount, void *hStream)',
  cuMemcpyDtoHAsync_v2: 'int cuMemcpyDtoHAsync_v2(void *dstHost, uint64_t srcDevice, size_t byteCount, void *hStream)',
  cuMemcpyDtoDAsync_v2:
    'int cuMemcpyDtoDAsync_v2(uint64_t dstDevice, uint64_t srcDevice, size_t byteCount, void *hStream)',
  cuMemGetInfo_v2: 'int cuMemGetInfo_v2(_Out_ size_t *free, _Out_ size_t *total)',
  cuModuleLoadData: 'int cuModuleLoadData(_Out_ void **module, const void *image)',
  cuModuleUnload: 'int cuModuleUnload(void *hmod)',
  cuModuleGetFunction: 'int cuModuleGetFunction(_Out_ void **hfunc, void *hmod, const char *name)',
  cuLaunchKernel:
    'int cuLaunchKernel(void *f, ' +
    'unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ, ' +
    'unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ, ' +
    'unsigned int sharedMemBytes, void *hStream, void *kernelParams, void *extra)',
} as const;

/**
 * cuEventElapsedTime_v2 is what CUDA 13's cuda.h maps cuEventElapsedTime to; drivers before
 * 12.8 only export the original, which has the same signature.
 */
const ELAPSED = ['cuEventElapsedTime_v2', 'cuEventElapsedTime'] as const;

// koffi functions are untyped; the surface is typed by the call sites through this alias.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = ((...args: any[]) => any) & { async: (...args: any[]) => void };

export type Driver = { readonly [K in keyof typeof DECLARATIONS]: Fn } & {
  readonly cuEventElapsedTime: Fn;
  /** The library path that loaded, for worker threads that load it again. */
  readonly libraryPath: string;
};

let bound: Driver | null = null;
let initialised = false;

/** The bound driver (loads libcuda on first use; throws LibraryNotFoundError without it). */
export function driver(): Driver {
  if (bound) return bound;
  const { lib, path } = library('cuda');
  const fns: Record<string, unknown> = { libraryPath: path };
  for (const [name, decl] of Object.entries(DECLARATIONS)) fns[name] = lib.func(decl);
  for (const name of ELAPSED) {
    try {
      fns.cuEventElapsedTime = lib.func(`int ${name}(_Out_ float *pMilliseconds, void *hStart, void *hEnd)`);
      break;
    } catch {
      // older driver: try the next name
    }
  }
  bound = fns as Driver;
  return bound;
}

/** driver() plus cuInit(0), once. */
export function initDriver(): Driver {
  const d = driver();
  if (!initialised) {
    check(d.cuInit(0), 'cuInit');
    initialised = true;
  }
  return d;
}

/** CUdeviceptr as koffi returned it → bigint. */
export function toPtr(value: number | bigint): bigint {
  return typeof value === 'bigint' ? value : BigInt(value);
}

/** The driver's name and description for a code; the static table when the driver is not bound. */
export function describeResult(code: number): { name: string; description: string } {
  if (bound) {
    const name: (string | null)[] = [null];
    const text: (string | null)[] = [null];
    if (bound.cuGetErrorName(code, name) === CUDA_SUCCESS && name[0]) {
      bound.cuGetErrorString(code, text);
      return { name: name[0], description: text[0] ?? name[0] };
    }
  }
  const name = cudaResultName(code);
  return {
    name,
    description: name
      .replace(/^CUDA_ERROR_/, '')
      .toLowerCase()
      .replace(/_/g, ' '),
  };
}

/** Throws a CudaError unless `result` is CUDA_SUCCESS. */
export function check(result: number, call: string, detail?: string): void {
  if (result !== CUDA_SUCCESS) throw cudaError(result, call, detail);
}

export function cudaError(result: number, call: string, detail?: string): CudaError {
  const { name, description } = describeResult(result);
  return new CudaError(result, name, call, description, detail);
}
