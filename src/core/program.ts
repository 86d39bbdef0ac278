// Program: CUDA C++ → NVRTC → cubin for this device's architecture → module. Kernels are looked
// up by name with a declared signature; the disk cache (compile-cache.ts) skips NVRTC on reruns.
import { check } from '../cuda/driver.js';
import { nvrtcVersion } from '../cuda/nvrtc.js';
import { UsageError } from '../util/errors.js';
import { cacheDir, cacheKey, readCached, writeCached } from './compile-cache.js';
import type { DeviceContext } from './context.js';
import { CudaKernel } from './kernel.js';
import { compileWithNvrtc } from './nvrtc-compile.js';
import { CudaResource } from './resource.js';
import type { ArgType, CompileOptions, Kernel, Program } from './types.js';

let programCount = 0;

export class CudaProgram extends CudaResource implements Program {
  /** The source's name in NVRTC's messages (also the label). */
  readonly name: string;
  readonly arch: string;
  /** True when the cubin came from the disk cache. */
  readonly cached: boolean;
  /** NVRTC's log (warnings) for a fresh compile; '' from the cache. */
  readonly log: string;
  readonly #module: bigint;
  readonly #signatures: Record<string, readonly ArgType[]>;
  readonly #kernels = new Map<string, CudaKernel>();

  constructor(owner: DeviceContext, source: string, options: CompileOptions = {}) {
    const name = options.name ?? `program${++programCount}.cu`;
    super(owner, 'Program', name);
    this.name = name;
    this.#signatures = { ...(options.kernels ?? {}) };
    const [major, minor] = owner.device.properties.computeCapability;
    this.arch = `sm_${major}${minor}`;
    const opts = [`--gpu-architecture=${this.arch}`, ...(options.options ?? [])];
    const v = nvrtcVersion();
    const dir = cacheDir();
    const key = cacheKey({
      source,
      options: opts,
      arch: this.arch,
      nvrtcVersion: `${v.major}.${v.minor}`,
      format: 'cubin',
    });
    let image = readCached(dir, key, 'cubin');
    this.cached = image !== null;
    this.log = '';
    if (!image) {
      const out = compileWithNvrtc(source, this.name, opts, 'cubin');
      image = out.image;
      this.log = out.log;
      writeCached(dir, key, 'cubin', image);
    }
    owner.makeCurrent();
    const mod: (bigint | null)[] = [null];
    check(owner.driver.cuModuleLoadData(mod, image), 'cuModuleLoadData', `${this.name} for ${this.arch}`);
    this.#module = mod[0]!;
    this.own(this.#module, owner.driver.cuModuleUnload);
  }

  getKernel(name: string, signature?: readonly ArgType[]): Kernel {
    this.assertOpen();
    const sig = signature ?? this.#signatures[name];
    if (!sig) {
      throw new UsageError(
        `kernel '${name}' has no signature; pass one: program.getKernel('${name}', ['pointer', 'u32', ...]) or compile(src, { kernels: { ${name}: [...] } })`,
      );
    }
    const existing = this.#kernels.get(name);
    if (existing && sameSignature(existing.signature, sig)) return existing;
    this.owner.makeCurrent();
    const fn: (bigint | null)[] = [null];
    const rc = this.owner.driver.cuModuleGetFunction(fn, this.#module, name) as number;
    check(
      rc,
      'cuModuleGetFunction',
      `'${name}' in ${this.name}${rc === 500 ? '; declare it extern "C" __global__ so its name is not mangled' : ''}`,
    );
    const kernel = new CudaKernel(this.owner, this, name, sig, fn[0]!);
    existing?.free();
    this.#kernels.set(name, kernel);
    return kernel;
  }

  protected destroy(): void {
    for (const k of this.#kernels.values()) k.free();
    this.#kernels.clear();
    this.owner.makeCurrent();
    check(this.owner.driver.cuModuleUnload(this.#module), 'cuModuleUnload', this.name);
  }
}

function sameSignature(a: readonly ArgType[], b: readonly ArgType[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}
