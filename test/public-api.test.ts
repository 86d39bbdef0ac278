// The package as users import it, BY NAME: Node resolves tandem's own name through the "exports"
// of package.json. The export lists are pinned: a name added to or dropped from the public API
// must change this test too, on purpose.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tandem from 'tandem';
import * as bench from 'tandem/bench';
import * as testing from 'tandem/testing';

const names = (m: object) => Object.keys(m).sort();

test("'tandem' exports exactly these runtime names", () => {
  assert.deepEqual(names(tandem), [
    'AbortError',
    'CudaDevice',
    'CudaError',
    'FfmpegNotFoundError',
    'HazardError',
    'LibraryNotFoundError',
    'MAX_DEPTH',
    'MultiPipeline',
    'MultiPipelineError',
    'NvrtcError',
    'PIXEL_FORMATS',
    'Pipeline',
    'PipelineError',
    'SinkError',
    'TandemError',
    'UsageError',
    'callbackSink',
    'checked',
    'chunkBytes',
    'closeDevices',
    'createFrameWorkload',
    'createMultiPipeline',
    'createPipeline',
    'driverAvailable',
    'findFfmpeg',
    'frameBytes',
    'frameRanges',
    'iteratorSink',
    'listDevices',
    'open',
    'openDevices',
    'openFfmpegSink',
    'openMultiPipeline',
    'openPngSink',
    'openRawSink',
    'parseDevicesSpec',
    'readableSink',
    'runRender',
    'synthetic',
    'workloadNames',
  ]);
});

test("'tandem/testing' exports the fake device", () => {
  assert.deepEqual(names(testing), ['FakeDevice', 'createFakeDevice']);
});

test("'tandem/bench' exports the measurement machinery", () => {
  assert.deepEqual(names(bench), [
    'RESULTS_SCHEMA',
    'STRICT_UTILIZATION_METHOD',
    'SYNTHETIC_SOURCE',
    'UtilizationSampler',
    'buildTrace',
    'calibrateCost',
    'computeGaps',
    'computeMetrics',
    'efficiencyAgainstAlone',
    'environment',
    'jobKey',
    'median',
    'nvmlUtilizationReader',
    'parseFrameSize',
    'renderReport',
    'runSketch',
    'runSweep',
    'singleRunResults',
    'summarizeUtilization',
    'syntheticKernel',
    'syntheticLauncher',
    'syntheticReference',
    'timeAlone',
    'timelineRecord',
    'traceCostPerChunkMs',
    'withoutTimeline',
    'writeReport',
    'writeResults',
    'writeTrace',
    'writeTraceRuns',
  ]);
});

test('the fake device is a Device: pipeline() runs, and errors share one base class', async () => {
  const device: tandem.Device = new testing.FakeDevice();
  try {
    const seen: number[] = [];
    const pipe = device.pipeline({
      outputBytes: 16,
      compute: (c) => device.memset(c.stream, c.output, c.index),
      sink: (c) => void seen.push(c.data[0]!),
    });
    const stats = await pipe.run(3);
    assert.equal(stats.chunks, 3);
    assert.deepEqual(seen, [0, 1, 2]);
    pipe.close();
    assert.ok(new tandem.UsageError('x') instanceof tandem.TandemError);
    assert.equal(new tandem.AbortError().name, 'AbortError');
  } finally {
    device.close();
  }
});
