// NVRTC as koffi functions, named as libnvrtc exports them. Bound on first use.
import { NvrtcError } from './errors.js';
import { library } from './library.js';

const DECLARATIONS = {
  nvrtcVersion: 'int nvrtcVersion(_Out_ int *major, _Out_ int *minor)',
  nvrtcGetErrorString: 'const char *nvrtcGetErrorString(int result)',
  nvrtcCreateProgram:
    'int nvrtcCreateProgram(_Out_ void **prog, const char *src, const char *name, int numHeaders, const char **headers, const char **includeNames)',
  nvrtcCompileProgram: 'int nvrtcCompileProgram(void *prog, int numOptions, const char **options)',
  nvrtcDestroyProgram: 'int nvrtcDestroyProgram(_Inout_ void **prog)',
  nvrtcGetProgramLogSize: 'int nvrtcGetProgramLogSize(void *prog, _Out_ size_t *logSizeRet)',
  nvrtcGetProgramLog: 'int nvrtcGetProgramLog(void *prog, _Out_ uint8_t *log)',
  nvrtcGetCUBINSize: 'int nvrtcGetCUBINSize(void *prog, _Out_ size_t *cubinSizeRet)',
  nvrtcGetCUBIN: 'int nvrtcGetCUBIN(void *prog, _Out_ uint8_t *cubin)',
  nvrtcGetPTXSize: 'int nvrtcGetPTXSize(void *prog, _Out_ size_t *ptxSizeRet)',
  nvrtcGetPTX: 'int nvrtcGetPTX(void *prog, _Out_ uint8_t *ptx)',
} as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => any;
export type Nvrtc = { readonly [K in keyof typeof DECLARATIONS]: Fn } & { readonly libraryPath: string };

let bound: Nvrtc | null = null;

export function nvrtc(): Nvrtc {
  if (bound) return bound;
  const { lib, path } = library('nvrtc');
  const fns: Record<string, unknown> = { libraryPath: path };
  for (const [name, decl] of Object.entries(DECLARATIONS)) fns[name] = lib.func(decl);
  bound = fns as Nvrtc;
  return bound;
}

/** NVRTC_SUCCESS is 0; anything else becomes an NvrtcError carrying `log`. */
export function checkNvrtc(result: number, call: string, log = '', detail?: string): void {
  if (result === 0) return;
  const name = bound ? (bound.nvrtcGetErrorString(result) as string) : `NVRTC_ERROR_${result}`;
  throw new NvrtcError(result, name, call, log, detail);
}

/** e.g. 13.0 → { major: 13, minor: 0 }. */
export function nvrtcVersion(): { major: number; minor: number } {
  const n = nvrtc();
  const major = [0];
  const minor = [0];
  checkNvrtc(n.nvrtcVersion(major, minor), 'nvrtcVersion');
  return { major: major[0]!, minor: minor[0]! };
}
