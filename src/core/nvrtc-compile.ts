// CUDA C++ → cubin (or PTX) with NVRTC. The log comes back inside NvrtcError on failure.
import { checkNvrtc, nvrtc } from '../cuda/nvrtc.js';

export interface NvrtcOutput {
  image: Buffer;
  log: string;
}

export function compileWithNvrtc(
  source: string,
  name: string,
  options: readonly string[],
  format: 'cubin' | 'ptx',
): NvrtcOutput {
  const n = nvrtc();
  const prog: (bigint | null)[] = [null];
  checkNvrtc(n.nvrtcCreateProgram(prog, source, name, 0, null, null), 'nvrtcCreateProgram', '', name);
  try {
    const rc = n.nvrtcCompileProgram(prog[0], options.length, [...options]) as number;
    const log = programLog(prog[0]!);
    if (rc !== 0) {
      checkNvrtc(rc, 'nvrtcCompileProgram', log, `${name}, options: ${options.join(' ')}`);
    }
    const size = [0];
    const [getSize, get, call] =
      format === 'cubin'
        ? [n.nvrtcGetCUBINSize, n.nvrtcGetCUBIN, 'nvrtcGetCUBIN']
        : [n.nvrtcGetPTXSize, n.nvrtcGetPTX, 'nvrtcGetPTX'];
    checkNvrtc(getSize(prog[0], size), `${call}Size`, log);
    const image = Buffer.alloc(size[0]!);
    checkNvrtc(get(prog[0], image), call, log);
    return { image, log };
  } finally {
    n.nvrtcDestroyProgram(prog);
  }
}

function programLog(prog: bigint): string {
  const n = nvrtc();
  const size = [0];
  if (n.nvrtcGetProgramLogSize(prog, size) !== 0 || size[0]! <= 1) return '';
  const buf = Buffer.alloc(size[0]!);
  if (n.nvrtcGetProgramLog(prog, buf) !== 0) return '';
  return buf.toString('utf8', 0, buf.indexOf(0) >= 0 ? buf.indexOf(0) : buf.length);
}
