// The README's example, kept runnable: a kernel writes 64 chunks of 16 MiB, each copied off the
// GPU on the copy stream and written to a file while the next chunks compute.
//   npx tsx examples/quickstart.ts [out.raw]
// `await using` closes the device and program at the end of the scope: TypeScript 5.2+ or tsx
// (plain JavaScript on Node 20 has no `using`: call close() in a finally block instead).
import { open as openFile } from 'node:fs/promises';
import { open } from 'tandem';

const SOURCE = `
extern "C" __global__ void frame(unsigned char *out, unsigned long long n, unsigned int index) {
  for (unsigned long long i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    out[i] = (unsigned char)(i * 31u + index);
}`;

const path = process.argv[2] ?? 'out.raw';
await using gpu = await open(0);
using program = gpu.compile(SOURCE, { kernels: { frame: ['pointer', 'u64', 'u32'] } });
const frame = program.getKernel('frame');
const outputBytes = 16 << 20;
const file = await openFile(path, 'w');
try {
  const pipe = gpu.pipeline({
    outputBytes,
    depth: 'auto',
    compute(chunk) {
      frame.launch(chunk.stream, { grid: 1024, block: 256 }, chunk.output, outputBytes, chunk.index);
    },
    async sink(chunk) {
      await file.write(chunk.data); // zero-copy view of the pinned slot
    },
  });
  const stats = await pipe.run(64);
  console.error(
    `${stats.chunks} chunks, ${(stats.bytesOut / 2 ** 20).toFixed(0)} MiB in ${stats.wallMs.toFixed(1)} ms, depth ${stats.depth} → ${path}`,
  );
} finally {
  await file.close();
}
