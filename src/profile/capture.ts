// Records which CUDA source a workload compiles and how it launches its kernel for each chunk, so
// the Python peers can launch the very same kernel with the very same arguments. The device is
// wrapped, not replaced: every call still reaches it, and only compile() and the launches of the
// kernels it returns are observed.
import type {
  ArgType,
  CompileOptions,
  DeviceBuffer,
  Kernel,
  KernelArg,
  LaunchOptions,
  Program,
  Stream,
} from '../core/types.js';
import type { Device } from '../pipeline/device.js';

export interface CompiledSource {
  source: string;
  options: readonly string[];
}

export interface RecordedLaunch {
  source: CompiledSource;
  kernel: string;
  signature: readonly ArgType[];
  stream: Stream;
  grid: [number, number, number];
  block: [number, number, number];
  sharedMemBytes: number;
  args: KernelArg[];
}

/** How a peer launches the kernel for chunk n: the arguments as a rule, not values. */
export type PeerArg =
  | { kind: 'output' }
  | { kind: 'index'; type: ArgType; offset: number }
  | { kind: 'const'; type: ArgType; value: string };

export interface PeerLaunch {
  kernel: { source: string; name: string; options: string[] };
  grid: [number, number, number];
  block: [number, number, number];
  sharedMemBytes: number;
  args: PeerArg[];
}

function dim3(d: LaunchOptions['grid']): [number, number, number] {
  const a = typeof d === 'number' ? [d] : [...d];
  return [a[0] ?? 1, a[1] ?? 1, a[2] ?? 1];
}

export class LaunchRecorder {
  /** Launches seen while recording, in order. */
  readonly launches: RecordedLaunch[] = [];
  recording = false;

  /** The device as the workload should see it. */
  wrap(device: Device): Device {
    const recorder = this;
    const wrapProgram = (program: Program, source: CompiledSource): Program =>
      new Proxy(program, {
        get(target, prop) {
          if (prop === 'getKernel') {
            return (name: string, signature?: readonly ArgType[]): Kernel =>
              wrapKernel(signature ? target.getKernel(name, signature) : target.getKernel(name), source);
          }
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    const wrapKernel = (kernel: Kernel, source: CompiledSource): Kernel => ({
      get name() {
        return kernel.name;
      },
      get signature() {
        return kernel.signature;
      },
      launch(stream: Stream, options: LaunchOptions, ...args: KernelArg[]): void {
        if (recorder.recording) {
          recorder.launches.push({
            source,
            kernel: kernel.name,
            signature: kernel.signature,
            stream,
            grid: dim3(options.grid),
            block: dim3(options.block),
            sharedMemBytes: options.sharedMemBytes ?? 0,
            args,
          });
        }
        kernel.launch(stream, options, ...args);
      },
    });
    return new Proxy(device, {
      get(target, prop) {
        if (prop === 'compile') {
          return (source: string, options?: CompileOptions): Program =>
            wrapProgram(target.compile(source, options), { source, options: [...(options?.options ?? [])] });
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }
}

function isBuffer(a: KernelArg): a is DeviceBuffer {
  return typeof a === 'object' && a !== null && (a as DeviceBuffer).kind === 'device';
}

/**
 * Turns the launches of consecutive chunks (first, first+1, first+2, each with the output buffer
 * it was given) into one launch rule, or says why the peers cannot reproduce it.
 */
export function peerLaunch(
  perChunk: readonly { index: number; output: DeviceBuffer; launches: readonly RecordedLaunch[] }[],
): { ok: true; launch: PeerLaunch } | { ok: false; reason: string } {
  if (perChunk.length < 2) return { ok: false, reason: 'fewer than two chunks were recorded' };
  for (const c of perChunk) {
    if (c.launches.length !== 1)
      return {
        ok: false,
        reason: `chunk ${c.index} launched ${c.launches.length} kernels; the peers reproduce one launch per chunk`,
      };
  }
  const first = perChunk[0]!.launches[0]!;
  for (const c of perChunk) {
    const l = c.launches[0]!;
    if (l.kernel !== first.kernel || l.source.source !== first.source.source)
      return { ok: false, reason: 'chunks launch different kernels' };
    if (
      l.grid.join() !== first.grid.join() ||
      l.block.join() !== first.block.join() ||
      l.sharedMemBytes !== first.sharedMemBytes
    ) {
      return { ok: false, reason: 'the launch configuration changes from chunk to chunk' };
    }
  }
  const args: PeerArg[] = [];
  for (let a = 0; a < first.args.length; a++) {
    const type = first.signature[a] ?? 'u64';
    const values = perChunk.map((c) => c.launches[0]!.args[a]!);
    const isOutput = perChunk.every((c, k) => {
      const v = values[k]!;
      return isBuffer(v) ? v === c.output || v.ptr === c.output.ptr : typeof v === 'bigint' && v === c.output.ptr;
    });
    if (isOutput) {
      args.push({ kind: 'output' });
      continue;
    }
    if (values.some(isBuffer))
      return {
        ok: false,
        reason: `argument ${a} is a device buffer other than the chunk's output (the peers allocate only the output)`,
      };
    if (values.every((v) => v === values[0])) {
      args.push({ kind: 'const', type, value: String(values[0]) });
      continue;
    }
    const integral =
      type !== 'f32' && type !== 'f64' && values.every((v) => typeof v === 'bigint' || Number.isInteger(v));
    const nums = integral ? values.map((v) => BigInt(v as number | bigint)) : [];
    if (integral && perChunk.every((c, k) => nums[k]! - nums[0]! === BigInt(c.index - perChunk[0]!.index))) {
      args.push({ kind: 'index', type, offset: Number(nums[0]! - BigInt(perChunk[0]!.index)) });
      continue;
    }
    return {
      ok: false,
      reason: `argument ${a} (${type}) varies from chunk to chunk in a way other than the chunk index`,
    };
  }
  return {
    ok: true,
    launch: {
      kernel: { source: first.source.source, name: first.kernel, options: [...first.source.options] },
      grid: first.grid,
      block: first.block,
      sharedMemBytes: first.sharedMemBytes,
      args,
    },
  };
}
