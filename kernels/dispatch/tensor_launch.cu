// tensor_ops.h entries: GEMM on cuBLASLt (kernels/blas/), the rest on kernels/tensor/.
#include "../blas/gemm.h"
#include "../runtime/cublaslt.h"
#include "../runtime/gpu_runtime.h"
#include "../tensor/tensor_kernels.h"
#include "tensor_ops.h"

namespace natten::launch {

void gemm(int device, DType t, const GemmArgs& a) {
  if (a.batch == 0 || a.m == 0 || a.n == 0) return;
  if (a.k == 0) {  // an empty sum: C = bias (or 0); cuBLASLt takes no k = 0
    const int64_t n = a.batch * a.m * a.n;
    gpu::memset_async(device, a.c, 0, (size_t)n * dtype_size(t));
    if (a.bias) tensor::add(device, t, AddArgs{n, a.n, a.c, a.bias, a.c});
    return;
  }
  blas::gemm(device, t, a);
}
void add(int device, DType t, const AddArgs& a) { tensor::add(device, t, a); }
void gelu(int device, DType t, const GeluArgs& a) { tensor::gelu(device, t, a); }
void layer_norm(int device, DType t, const LayerNormArgs& a) { tensor::layer_norm(device, t, a); }
void strided_copy(int device, DType t, const StridedCopyArgs& a) { tensor::strided_copy(device, t, a); }
void sum_rows(int device, DType t, const SumRowsArgs& a) { tensor::sum_rows(device, t, a); }
void gelu_backward(int device, DType t, const GeluBackwardArgs& a) { tensor::gelu_backward(device, t, a); }
void layer_norm_backward(int device, DType t, const LayerNormBackwardArgs& a) {
  tensor::layer_norm_backward(device, t, a);
}
void mse_loss(int device, DType t, const MseLossArgs& a) { tensor::mse_loss(device, t, a); }
void mse_loss_backward(int device, DType t, const MseLossBackwardArgs& a) { tensor::mse_loss_backward(device, t, a); }
std::string cublaslt_library() { return gpu::cublaslt_description(); }

}  // namespace natten::launch
