/**
 * natten-node: neighborhood attention for Node.js.
 *
 * Tensors live on the CPU or a CUDA device; operations enqueue work on the device's ordered queue and
 * return at once; `await t.toArray()` reads results without blocking the event loop.
 */
export { Tensor, tensor, empty, zeros, randn, tidy } from './tensor';
export type { TensorOptions, RandnOptions, TensorData, NestedNumbers, TidyResult } from './tensor';
export type { DType, ArrayFor } from './dtype';
export { DTYPES } from './dtype';
export { cuda } from './device';
export type { DeviceLike, DeviceName, CudaDeviceInfo } from './device';
export { buildInfo, memory, synchronize } from './runtime';
export type { BuildInfo } from './runtime';
export { NattenError } from './errors';
export type { NattenErrorCode, CodedTypeError, CodedRangeError } from './errors';
