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
export { captureGraph, CudaGraph } from './cuda_graph';
export type { DeviceLike, DeviceName, CudaDeviceInfo } from './device';
export { buildInfo, memory, synchronize } from './runtime';
export type { BuildInfo, CpuSimdLevel } from './runtime';
export { NattenError } from './errors';
export { gradcheck, GradcheckError } from './gradcheck';
export type {
  Differentiable,
  GradcheckInputs,
  GradcheckForwardResult,
  GradcheckOptions,
  GradcheckFailure,
} from './gradcheck';
export { internal } from './internal';
export type { NattenErrorCode, CodedTypeError, CodedRangeError } from './errors';
export {
  useFusedNA,
  isFusedNAEnabled,
  useKVParallelism,
  isKVParallelismEnabled,
  setMemoryUsagePreference,
  getMemoryUsagePreference,
  useDeterministicAlgorithms,
  areDeterministicAlgorithmsEnabled,
  setPoisonOutputs,
  isPoisonOutputsEnabled,
} from './context';
export type { MemoryPreference } from './context';
export { na1d, na2d, na3d, na1dBackward, na2dBackward, na3dBackward } from './ops/fused';
export { hasFusedNA, fusedConfigs } from './ops/fused_configs';
export type { FusedConfigQuery, FusedConfigInfo, ForwardKernel, BackwardKernel } from './ops/fused_configs';
export type {
  NAOptions,
  NAResult,
  NAGradients,
  FusedKernelOptions,
  NAForward,
  NABackward,
  NALseOptions,
  NAOutputOptions,
} from './ops/fused';
export {
  na1dQK,
  na2dQK,
  na3dQK,
  na1dAV,
  na2dAV,
  na3dAV,
  na1dQKBackward,
  na2dQKBackward,
  na3dQKBackward,
  na1dAVBackward,
  na2dAVBackward,
  na3dAVBackward,
} from './ops/unfused';
export type {
  QKOptions,
  AVOptions,
  QKGradients,
  AVGradients,
  NAQK,
  NAAV,
  NAQKBackward,
  NAAVBackward,
} from './ops/unfused';
export { softmax, softmaxBackward } from './ops/softmax';
export { mergeAttentions } from './ops/merge';
export type { MergedAttention } from './ops/merge';
export { neighborhoodAttention1d, neighborhoodAttention2d, neighborhoodAttention3d } from './ops/attention';
export type { NeighborhoodAttentionOptions } from './ops/attention';
export type { WindowOptions, PerAxis } from './ops/validate';
export { linear, matmul, setFloat32MatmulPrecision, getFloat32MatmulPrecision } from './ops/linear';
export type { Float32MatmulPrecision } from './ops/linear';
export { add, mul, gelu, layerNorm } from './ops/elementwise';
export type { GeluOptions } from './ops/elementwise';
export { permute, contiguous, split, chunk, concat, copyInto, toHeadsFirst, toHeadsLast } from './ops/shape_ops';
export { linearBackward, matmulBackward } from './ops/linear_backward';
export type { LinearGradients, MatmulGradients } from './ops/linear_backward';
export { addBackward, mulBackward, geluBackward, layerNormBackward } from './ops/elementwise_backward';
export type { AddGradients, LayerNormGradients } from './ops/elementwise_backward';
export {
  permuteBackward,
  splitBackward,
  chunkBackward,
  concatBackward,
  contiguousBackward,
  toHeadsFirstBackward,
  toHeadsLastBackward,
} from './ops/shape_backward';
export { mseLoss, mseLossBackward } from './ops/loss';
export type { MseLossGradients } from './ops/loss';
export { noGrad, isGradEnabled } from './grad_mode';
export * from './autotuner';
export { loadSafetensors, saveSafetensors } from './safetensors';
export type { LoadSafetensorsOptions, TensorDict } from './safetensors';
export * as nn from './nn';
export * as optim from './optim';
export * as amp from './amp';
