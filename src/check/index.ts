// The cross-stream hazard checker: checked(device) and the error it raises.
export { checked, type CheckedDevice, type CheckOptions } from './checked.js';
export { HazardError, describeOp, type OpInfo, type OpKind, type HazardKind, type BarrierNumber } from './errors.js';
