// D2H copies alone, for the experiments' references: `n` copies of `bytes` from one device buffer
// into two pinned buffers taken in turn, on one stream, timed with events, `repeats` times
// (GPU ms each). The same measurement as bench/overlap.ts's 'copy alone'.
import type { Device } from 'tandem';

export async function timeD2H(device: Device, bytes: number, n: number, repeats = 1): Promise<number[]> {
  using s = device.createStream({ label: 'd2h alone' });
  using a = device.createEvent({ timing: true });
  using b = device.createEvent({ timing: true });
  using src = device.allocDevice(bytes, 'd2h alone src');
  using p0 = device.allocPinned(bytes, 'd2h alone pinned 0');
  using p1 = device.allocPinned(bytes, 'd2h alone pinned 1');
  for (let k = 0; k < 3; k++) device.copy(s, p0, src); // warm
  const ms: number[] = [];
  for (let r = 0; r < repeats; r++) {
    a.record(s);
    for (let k = 0; k < n; k++) device.copy(s, k & 1 ? p1 : p0, src);
    b.record(s);
    await b.completion();
    ms.push(b.elapsedMs(a));
  }
  return ms;
}
