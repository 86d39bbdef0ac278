// The synthetic workload: the fake kernel writes exactly the CPU reference's bytes, the pattern
// depends on chunk, word and input, and calibration finds iters for a compute/copy ratio.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPipeline } from '../src/pipeline/index.js';
import { FakeDevice } from '../src/testing/index.js';
import { synthetic, syntheticReference, SYNTHETIC_SOURCE } from '../src/workloads/synthetic.js';
import { assertNoLeaks, inputBytesOf } from './pipeline-helpers.js';

test('the CUDA source declares the kernel the signature names', () => {
  assert.match(
    SYNTHETIC_SOURCE,
    new RegExp(
      String.raw`extern "C" __global__ void tandem_synthetic\(unsigned int\* out, const unsigned int\* in,` +
        String.raw`\s+unsigned long long words, unsigned int chunk, unsigned int iters, unsigned long long inWords\)`,
    ),
  );
});

test('reference: deterministic, and different for another chunk, iters or input', () => {
  const a = syntheticReference(256, 3, 2);
  assert.deepEqual(a, syntheticReference(256, 3, 2));
  assert.notDeepEqual(a, syntheticReference(256, 4, 2));
  assert.notDeepEqual(a, syntheticReference(256, 3, 3));
  assert.notDeepEqual(a, syntheticReference(256, 3, 2, inputBytesOf(1, 64)));
  // Known words (lowbias32 of 0 and 1), so a change of the hash shows up here first.
  const w = new Uint32Array(syntheticReference(8, 0, 0).buffer);
  assert.deepEqual([...w], [0, 0x688990c0]);
});

test('workload on the fake device: every chunk equals the CPU reference, with and without inputs', async () => {
  const fake = new FakeDevice();
  for (const inputBytes of [undefined, 128]) {
    const w = synthetic({ outputBytes: 512, inputBytes, iters: 3 });
    const inst = w.setup(fake);
    const inputs = Array.from({ length: 9 }, (_, n) => inputBytesOf(n, 128));
    let n = 0;
    await createPipeline<Uint8Array>(fake, {
      outputBytes: w.outputBytes,
      inputBytes: w.inputBytes,
      depth: 2,
      compute: (c) => inst.compute(c),
      sink(c) {
        assert.deepEqual(c.data, inst.reference!(c.index, inputBytes ? c.item : undefined));
        n++;
      },
    }).run(inputs);
    assert.equal(n, 9);
    w.close();
    w.close();
  }
  assertNoLeaks(fake);
});

test('options are checked', () => {
  assert.throws(() => synthetic({ outputBytes: 6 }), /multiple of 4/);
  assert.throws(() => synthetic({ outputBytes: 8, iters: -1 }), /iters/);
});
