// Compile test: kernel.launch() is typed by the kernel's declared signature. This file must
// type-check (npm run build compiles it), and each @ts-expect-error line must stay an error: if
// the typing loosened, tsc would report the directive as unused and the build would fail.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Device, Kernel } from 'tandem';
import { FakeDevice } from 'tandem/testing';

function launchAll(device: Device): number {
  using program = device.compile('', { kernels: { fill: ['pointer', 'u64', 'u32'], scale: ['f32'] } });
  const fill = program.getKernel('fill');
  const scale: Kernel<readonly ['f32']> = program.getKernel('scale');
  using stream = device.createStream();
  using out = device.allocDevice(64, 'out');
  const config = { grid: 1, block: 1 };
  fill.launch(stream, config, out, 64, 7); // a number for u64
  fill.launch(stream, config, out, 64n, 7); // or a bigint
  scale.launch(stream, config, 0.5);
  // @ts-expect-error -- one argument short
  assert.throws(() => fill.launch(stream, config, out, 64));
  // @ts-expect-error -- a number where the signature says pointer
  assert.throws(() => fill.launch(stream, config, 5, 64, 7));
  // @ts-expect-error -- a bigint for u32
  assert.throws(() => fill.launch(stream, config, out, 64, 7n));
  // @ts-expect-error -- no kernel of that name was declared
  assert.throws(() => program.getKernel('missing'));
  // A signature given to getKernel types the launch the same way.
  const late = program.getKernel('scale', ['f32']);
  // @ts-expect-error -- a string for f32
  assert.throws(() => late.launch(stream, config, 'half'));
  return 3;
}

test('launch() takes exactly the declared arguments (and the run-time check agrees)', async () => {
  const fake = new FakeDevice();
  try {
    fake.defineKernel('fill', ['pointer', 'u64', 'u32'], () => {});
    fake.defineKernel('scale', ['f32'], () => {});
    assert.equal(launchAll(fake), 3);
    await fake.synchronize();
  } finally {
    fake.close();
  }
});
