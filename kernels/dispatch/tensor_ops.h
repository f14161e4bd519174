// Host API of the CUDA tensor ops (docs/design.md §6 "Tensor ops"): the only entry native/ uses to run them
// on a GPU. GEMM goes to cuBLASLt (kernels/blas/), the rest to the simple kernels of kernels/tensor/; each
// call enqueues on the device's stream. Throws natten::Error (ERR_NATTEN_NO_CUBLAS when cuBLASLt is missing).
#pragma once
#include <string>

#include "../common/dtype.h"
#include "../common/error.h"
#include "../common/tensor_args.h"

namespace natten::launch {

void gemm(int device, DType t, const GemmArgs& a);
void add(int device, DType t, const AddArgs& a);
void gelu(int device, DType t, const GeluArgs& a);
void layer_norm(int device, DType t, const LayerNormArgs& a);
void strided_copy(int device, DType t, const StridedCopyArgs& a);
void sum_rows(int device, DType t, const SumRowsArgs& a);
void gelu_backward(int device, DType t, const GeluBackwardArgs& a);
void layer_norm_backward(int device, DType t, const LayerNormBackwardArgs& a);
void mse_loss(int device, DType t, const MseLossArgs& a);
void mse_loss_backward(int device, DType t, const MseLossBackwardArgs& a);

/// The cuBLASLt the GPU GEMM uses: its path and version ("" when the build has no CUDA or the library is not
/// found). Loads it on first use (once per process).
std::string cublaslt_library();

}  // namespace natten::launch
