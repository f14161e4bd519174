// The simple CUDA kernels of the tensor ops (docs/design.md §6 "Tensor ops"): add with broadcast, GELU,
// layer norm and the strided layout copy. fp32 math, one rounding per stored element; each call enqueues on
// the device's stream.
#pragma once
#include "../common/dtype.h"
#include "../common/tensor_args.h"

namespace natten::tensor {

void add(int device, DType t, const AddArgs& a);
void gelu(int device, DType t, const GeluArgs& a);
void layer_norm(int device, DType t, const LayerNormArgs& a);
void strided_copy(int device, DType t, const StridedCopyArgs& a);
void sum_rows(int device, DType t, const SumRowsArgs& a);
void gelu_backward(int device, DType t, const GeluBackwardArgs& a);
void layer_norm_backward(int device, DType t, const LayerNormBackwardArgs& a);
void mse_loss(int device, DType t, const MseLossArgs& a);
void mse_loss_backward(int device, DType t, const MseLossBackwardArgs& a);

}  // namespace natten::tensor
