// The sweep's copy-drift warning: D2H alone measured several times at a size; a spread above 2 %
// puts a note in the results (and on stderr) saying copy-bound figures carry that noise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DRIFT_WARN, copyDrift, copyDriftNote } from '../src/profile/drift.js';

const MiB = 1024 ** 2;

test('copyDrift: spread = (max − min) / min; one measurement has none', () => {
  assert.equal(copyDrift(4 * MiB, [155]).spread, 0);
  assert.ok(Math.abs(copyDrift(4 * MiB, [155.2, 161.4, 192.6, 159.7]).spread - (192.6 - 155.2) / 155.2) < 1e-12);
  assert.deepEqual(copyDrift(4 * MiB, [1, 2]).samplesMs, [1, 2]);
});

test('copyDriftNote: silent on a steady host, names each drifting size with its range otherwise', () => {
  const steady = [copyDrift(64 * MiB, [394.8, 395.0, 395.6]), copyDrift(4 * MiB, [155.0, 154.6, 155.0])];
  assert.equal(copyDriftNote(steady), null);
  assert.ok(DRIFT_WARN >= 0.01 && DRIFT_WARN <= 0.05);
  const noisy = [copyDrift(64 * MiB, [394.8, 395.0]), copyDrift(4 * MiB, [155.2, 161.4, 192.6])];
  const note = copyDriftNote(noisy)!;
  assert.match(note, /^D2H alone drifted on this host \(4 MiB: 24\.1 % over 3 measurements \(155\.2–192\.6 ms\)\)/);
  assert.doesNotMatch(note, /64 MiB/);
  assert.match(note, /copy-bound efficiencies and peer ratios carry that much noise/);
  assert.match(note, /bench\/copy-drift\.ts/);
});
