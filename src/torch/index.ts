export { Tensor, tidy, dispose, isTensor, callOp, callTensorOp, opId } from './tensor.js';
export type { Device, Scalar, TensorOrScalar, SliceSpec } from './tensor.js';
export * from './ops.js';
export * from './runtime.js';
export { type DType, dtypeByteSize, isFloatingDtype, toSafetensorsDtype, fromSafetensorsDtype } from './dtype.js';
export type { TypedArray } from './dtype.js';
export { NF4Tensor, nf4Levels } from './nf4.js';
export { DISTRIBUTED_ERROR, distributedAvailable, ProcessGroup, requireDistributed, type ProcessGroupOptions } from './distributed.js';
