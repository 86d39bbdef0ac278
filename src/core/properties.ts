// Device properties and launch limits from cuDeviceGetAttribute, PCIe link state from NVML.
import { check, type Driver } from '../cuda/driver.js';
import * as C from '../cuda/constants.js';
import { nvmlDeviceState } from '../cuda/nvml.js';
import type { LaunchLimits } from './launch-config.js';
import type { DeviceProperties } from './types.js';

function attribute(d: Driver, dev: number, attr: number, name: string): number {
  const out = [0];
  check(d.cuDeviceGetAttribute(out, attr, dev), 'cuDeviceGetAttribute', name);
  return out[0]!;
}

function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.toString('utf8', 0, end >= 0 ? end : buf.length);
}

export function readDeviceProperties(d: Driver, ordinal: number, dev: number): DeviceProperties {
  const name = Buffer.alloc(256);
  check(d.cuDeviceGetName(name, name.length, dev), 'cuDeviceGetName');
  const bus = Buffer.alloc(64);
  check(d.cuDeviceGetPCIBusId(bus, bus.length, dev), 'cuDeviceGetPCIBusId');
  const total = [0];
  check(d.cuDeviceTotalMem_v2(total, dev), 'cuDeviceTotalMem_v2');
  const pciBusId = cString(bus);
  return {
    ordinal,
    name: cString(name),
    computeCapability: [
      attribute(d, dev, C.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 'COMPUTE_CAPABILITY_MAJOR'),
      attribute(d, dev, C.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 'COMPUTE_CAPABILITY_MINOR'),
    ],
    smCount: attribute(d, dev, C.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 'MULTIPROCESSOR_COUNT'),
    asyncEngineCount: attribute(d, dev, C.CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT, 'ASYNC_ENGINE_COUNT'),
    l2CacheBytes: attribute(d, dev, C.CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, 'L2_CACHE_SIZE'),
    totalMemory: Number(total[0]),
    pciBusId,
    pcie: nvmlDeviceState(pciBusId).pcie,
  };
}

export function readLaunchLimits(d: Driver, dev: number): LaunchLimits {
  const a = (attr: number, name: string) => attribute(d, dev, attr, name);
  return {
    maxThreadsPerBlock: a(C.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 'MAX_THREADS_PER_BLOCK'),
    maxBlockDim: [
      a(C.CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, 'MAX_BLOCK_DIM_X'),
      a(C.CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y, 'MAX_BLOCK_DIM_Y'),
      a(C.CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, 'MAX_BLOCK_DIM_Z'),
    ],
    maxGridDim: [
      a(C.CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, 'MAX_GRID_DIM_X'),
      a(C.CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, 'MAX_GRID_DIM_Y'),
      a(C.CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z, 'MAX_GRID_DIM_Z'),
    ],
    maxSharedMemPerBlock: a(C.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, 'MAX_SHARED_MEMORY_PER_BLOCK'),
  };
}
