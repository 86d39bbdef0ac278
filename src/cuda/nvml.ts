// NVML as koffi functions, named as libnvidia-ml exports them: the utilisation and memory
// figures nvidia-smi shows, and PCIe link state. Optional everywhere: nvml() returns null when
// the library or nvmlInit_v2 fails, and callers report "unknown" rather than failing.
import koffi from 'koffi';
import { NVML_SUCCESS } from './constants.js';
import { library } from './library.js';

// Registered by name for the declarations below.
koffi.struct('nvmlMemory_t', { total: 'unsigned long long', free: 'unsigned long long', used: 'unsigned long long' });
koffi.struct('nvmlUtilization_t', { gpu: 'unsigned int', memory: 'unsigned int' });

const DECLARATIONS = {
  nvmlInit_v2: 'int nvmlInit_v2()',
  nvmlShutdown: 'int nvmlShutdown()',
  nvmlDeviceGetHandleByPciBusId_v2: 'int nvmlDeviceGetHandleByPciBusId_v2(const char *pciBusId, _Out_ void **device)',
  nvmlDeviceGetHandleByIndex_v2: 'int nvmlDeviceGetHandleByIndex_v2(unsigned int index, _Out_ void **device)',
  nvmlDeviceGetUtilizationRates:
    'int nvmlDeviceGetUtilizationRates(void *device, _Out_ nvmlUtilization_t *utilization)',
  nvmlDeviceGetMemoryInfo: 'int nvmlDeviceGetMemoryInfo(void *device, _Out_ nvmlMemory_t *memory)',
  nvmlDeviceGetCurrPcieLinkGeneration:
    'int nvmlDeviceGetCurrPcieLinkGeneration(void *device, _Out_ unsigned int *currLinkGen)',
  nvmlDeviceGetCurrPcieLinkWidth: 'int nvmlDeviceGetCurrPcieLinkWidth(void *device, _Out_ unsigned int *currLinkWidth)',
  nvmlDeviceGetMaxPcieLinkGeneration:
    'int nvmlDeviceGetMaxPcieLinkGeneration(void *device, _Out_ unsigned int *maxLinkGen)',
  nvmlDeviceGetMaxPcieLinkWidth: 'int nvmlDeviceGetMaxPcieLinkWidth(void *device, _Out_ unsigned int *maxLinkWidth)',
} as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => any;
export type Nvml = { readonly [K in keyof typeof DECLARATIONS]: Fn };

let bound: Nvml | null | undefined;

/** The initialised NVML, or null when it is not available (reported, never thrown). */
export function nvml(): Nvml | null {
  if (bound !== undefined) return bound;
  try {
    const { lib } = library('nvml');
    const fns: Record<string, unknown> = {};
    for (const [name, decl] of Object.entries(DECLARATIONS)) fns[name] = lib.func(decl);
    const n = fns as Nvml;
    bound = n.nvmlInit_v2() === NVML_SUCCESS ? n : null;
  } catch {
    bound = null;
  }
  return bound;
}

export interface NvmlDeviceState {
  pcie: { generation: number; width: number; maxGeneration: number; maxWidth: number } | null;
  utilization: { gpu: number; memory: number } | null;
  memory: { total: number; free: number; used: number } | null;
}

/** What NVML says about the GPU at `pciBusId`; nulls for what it cannot tell. */
export function nvmlDeviceState(pciBusId: string): NvmlDeviceState {
  const none: NvmlDeviceState = { pcie: null, utilization: null, memory: null };
  const n = nvml();
  if (!n) return none;
  const handle: (bigint | null)[] = [null];
  if (n.nvmlDeviceGetHandleByPciBusId_v2(pciBusId, handle) !== NVML_SUCCESS || handle[0] == null) return none;
  const h = handle[0];
  const u = (fn: Fn) => {
    const out = [0];
    return fn(h, out) === NVML_SUCCESS ? out[0]! : null;
  };
  const gen = u(n.nvmlDeviceGetCurrPcieLinkGeneration);
  const width = u(n.nvmlDeviceGetCurrPcieLinkWidth);
  const maxGen = u(n.nvmlDeviceGetMaxPcieLinkGeneration);
  const maxWidth = u(n.nvmlDeviceGetMaxPcieLinkWidth);
  const util: { gpu?: number; memory?: number } = {};
  const mem: { total?: number | bigint; free?: number | bigint; used?: number | bigint } = {};
  const utilOk = n.nvmlDeviceGetUtilizationRates(h, util) === NVML_SUCCESS;
  const memOk = n.nvmlDeviceGetMemoryInfo(h, mem) === NVML_SUCCESS;
  return {
    pcie:
      gen !== null && width !== null
        ? { generation: gen, width, maxGeneration: maxGen ?? gen, maxWidth: maxWidth ?? width }
        : null,
    utilization: utilOk ? { gpu: util.gpu ?? 0, memory: util.memory ?? 0 } : null,
    memory: memOk ? { total: Number(mem.total), free: Number(mem.free), used: Number(mem.used) } : null,
  };
}
