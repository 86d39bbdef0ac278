// The one message for a resource used after close(): what it was and how to get a new one.
import { UsageError } from '../util/errors.js';

const REMEDY: Record<string, string> = {
  Device: 'open it again with open(ordinal)',
  Stream: 'create a new one with device.createStream()',
  Event: 'create a new one with device.createEvent()',
  DeviceBuffer: 'allocate a new one with device.allocDevice()',
  PinnedBuffer: 'allocate a new one with device.allocPinned()',
  RegisteredHostBuffer: 'register the memory again with device.registerHost()',
  Program: 'compile it again with device.compile()',
};

export function closedError(kind: keyof typeof REMEDY | string, label: string): UsageError {
  return new UsageError(`${kind} '${label}' was closed; ${REMEDY[kind] ?? 'create a new one'}`);
}
