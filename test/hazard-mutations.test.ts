// The checker is silent on tandem's pipeline because the barriers are there, not because it is
// blind: remove one barrier at a time (drop a waitEvent, or let a completion() resolve at once)
// between the pipeline and the checked device, and the checker names exactly that barrier.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checked, type CheckedDevice } from '../src/check/index.js';
import { createPipeline } from '../src/pipeline/index.js';
import { FakeDevice } from '../src/testing/index.js';
import type { Event, Stream } from '../src/core/types.js';

interface Mutation {
  name: string;
  barrier: number;
  uploads: boolean;
  /** Drop waits of a stream whose label ends with `stream` on events whose label contains `event`. */
  dropWait?: { stream: string; event: string };
  /** Make completion() of events whose label contains this resolve at once (the host does not wait). */
  skipCompletion?: string;
}

const MUTATIONS: Mutation[] = [
  {
    name: 'compute does not wait for the D2H of the slot',
    barrier: 1,
    uploads: false,
    dropWait: { stream: 'compute', event: 'copied' },
  },
  {
    name: 'the D2H does not wait for compute',
    barrier: 2,
    uploads: false,
    dropWait: { stream: 'copy', event: 'computed' },
  },
  { name: 'the host reads the slot without awaiting the D2H', barrier: 4, uploads: false, skipCompletion: 'copied' },
  {
    name: 'compute does not wait for the upload',
    barrier: 5,
    uploads: true,
    dropWait: { stream: 'compute', event: 'uploaded' },
  },
  {
    name: 'the upload does not wait for compute to stop reading the input slot',
    barrier: 5,
    uploads: true,
    dropWait: { stream: 'upload', event: 'computed' },
  },
];

/** A checked device whose streams / events lose one barrier on the way in. */
function mutated(m: Mutation): { fake: FakeDevice; dev: CheckedDevice } {
  // Slow copies and kernels that take turns, so the barriers matter on every chunk.
  const fake = new FakeDevice({ copyCostMs: () => 1 });
  fake.defineKernel('produce', ['pointer', 'u32'], (_c, out, n) => (out as Uint8Array).fill(Number(n) & 255), 0.3);
  fake.defineKernel(
    'transform',
    ['pointer', 'pointer', 'u32'],
    (_c, out, inp) => (out as Uint8Array).set((inp as Uint8Array).subarray(0, 64)),
    0.3,
  );
  const dev = checked(fake, { onHazard: 'collect' });
  const createStream = dev.createStream.bind(dev);
  dev.createStream = (options) => {
    const s: Stream = createStream(options);
    const drop = m.dropWait;
    if (drop && s.label.endsWith(drop.stream)) {
      const wait = s.waitEvent.bind(s);
      s.waitEvent = (e: Event) => (e.label.includes(drop.event) ? undefined : wait(e));
    }
    return s;
  };
  const createEvent = dev.createEvent.bind(dev);
  dev.createEvent = (options) => {
    const e: Event = createEvent(options);
    if (m.skipCompletion && e.label.includes(m.skipCompletion)) e.completion = () => Promise.resolve();
    return e;
  };
  return { fake, dev };
}

for (const m of MUTATIONS) {
  test(
    `barrier ${m.barrier} removed (${m.name}): the checker reports barrier ${m.barrier}`,
    { timeout: 30_000 },
    async () => {
      const { dev } = mutated(m);
      const prog = dev.compile('', {
        kernels: { produce: ['pointer', 'u32'], transform: ['pointer', 'pointer', 'u32'] },
      });
      const produce = prog.getKernel('produce');
      const transform = prog.getKernel('transform');
      const p = createPipeline<number>(dev, {
        outputBytes: 64,
        inputBytes: m.uploads ? 64 : undefined,
        depth: 2,
        compute: (c) =>
          m.uploads
            ? transform.launch(
                c.stream,
                { grid: 1, block: 1, reads: [c.input!], writes: [c.output] },
                c.output,
                c.input!,
                c.index,
              )
            : produce.launch(c.stream, { grid: 1, block: 1, writes: [c.output] }, c.output, c.index),
        sink: () => {},
      });
      const inputs = m.uploads ? Array.from({ length: 8 }, (_, n) => new Uint8Array(64).fill(n)) : 8;
      await p.run(inputs as never).catch(() => {});
      p.close();
      const barriers = [...new Set(dev.hazards.map((h) => h.barrier))];
      assert.ok(
        barriers.includes(m.barrier as never),
        `barrier ${m.barrier} reported; got ${barriers.join(', ') || 'nothing'}: ${dev.hazards[0]?.message ?? ''}`,
      );
      const h = dev.hazards.find((x) => x.barrier === m.barrier)!;
      assert.match(h.message, new RegExp(`\\(barrier ${m.barrier}`));
      assert.match(h.buffer, /pipeline (pinned )?(out|in)\[\d\]/);
    },
  );
}

test('no mutation: the same set-up reports nothing (the control)', { timeout: 30_000 }, async () => {
  for (const uploads of [false, true]) {
    const { dev } = mutated({ name: 'none', barrier: 0, uploads });
    const prog = dev.compile('', {
      kernels: { produce: ['pointer', 'u32'], transform: ['pointer', 'pointer', 'u32'] },
    });
    const produce = prog.getKernel('produce');
    const transform = prog.getKernel('transform');
    const p = createPipeline<number>(dev, {
      outputBytes: 64,
      inputBytes: uploads ? 64 : undefined,
      depth: 2,
      compute: (c) =>
        uploads
          ? transform.launch(
              c.stream,
              { grid: 1, block: 1, reads: [c.input!], writes: [c.output] },
              c.output,
              c.input!,
              c.index,
            )
          : produce.launch(c.stream, { grid: 1, block: 1, writes: [c.output] }, c.output, c.index),
      sink: () => {},
    });
    await p.run((uploads ? Array.from({ length: 8 }, (_, n) => new Uint8Array(64).fill(n)) : 8) as never);
    p.close();
    assert.deepEqual(dev.hazards, []);
  }
});
