// The README's quick start, kept runnable: the overlap pipeline on the in-process fake device,
// no GPU needed.   npx tsx examples/fake-device.ts
import { createFakeDevice } from 'tandem/testing';

const gpu = createFakeDevice(); // one compute and two copy engines on a virtual clock
// On the fake device a kernel is a JavaScript function that costs virtual time;
// on a GPU, gpu.compile(cudaSource, { kernels }) gives the same kind of Kernel.
gpu.defineKernel(
  'fill',
  ['pointer', 'u32'],
  (_launch, ...args) => {
    const [out, index] = args as [Uint8Array, number];
    out.fill(index & 0xff, 0, 4096);
  },
  2, // virtual ms per launch
);
const fill = gpu.compile('', { kernels: { fill: ['pointer', 'u32'] } }).getKernel('fill');

let next = 0;
const pipe = gpu.pipeline({
  outputBytes: 4096, // per chunk
  depth: 'auto', // ring size, picked from the first chunks' measured stage times
  compute(chunk) {
    // Enqueue this chunk's work on chunk.stream; never wait for the GPU here.
    fill.launch(chunk.stream, { grid: 16, block: 256 }, chunk.output, chunk.index);
  },
  async sink(chunk) {
    // The host stage: chunks arrive in order, exactly once; chunk.data views the pinned slot.
    if (chunk.index !== next++ || chunk.data[0] !== (chunk.index & 0xff)) throw new Error('out of order');
    await new Promise((resolve) => setTimeout(resolve, 1)); // stands in for a file or socket write
  },
});
try {
  const stats = await pipe.run(100);
  console.log(`${stats.chunks} chunks in order; ring: ${stats.depth} pinned slots, ${stats.deviceSlots} on the device`);
} finally {
  gpu.close();
}
