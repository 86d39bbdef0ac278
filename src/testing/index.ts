// tandem/testing: the fake device, so pipelines can be tested in CI without a GPU.
export { FakeDevice, createFakeDevice } from './fake-device.js';
export type { CopyDirection, FakeDeviceOptions, FakeFaultOp, FakeLiveResources } from './fake-device.js';
export type { FakeClockMode } from './fake-clock.js';
export type { FakeKernelArg, FakeKernelContext, FakeKernelCost, FakeKernelFn } from './fake-kernel.js';
