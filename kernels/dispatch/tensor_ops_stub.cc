// tensor_ops.h for CPU-only builds: every entry reports that CUDA was not compiled.
#include "tensor_ops.h"

namespace natten::launch {
namespace {
[[noreturn]] void no_cuda() {
  throw Error(ErrorKind::Natten, "ERR_NATTEN_NO_CUDA", "this natten-node addon was built without CUDA");
}
}  // namespace

void gemm(int, DType, const GemmArgs&) { no_cuda(); }
void add(int, DType, const AddArgs&) { no_cuda(); }
void gelu(int, DType, const GeluArgs&) { no_cuda(); }
void layer_norm(int, DType, const LayerNormArgs&) { no_cuda(); }
void strided_copy(int, DType, const StridedCopyArgs&) { no_cuda(); }
void sum_rows(int, DType, const SumRowsArgs&) { no_cuda(); }
void gelu_backward(int, DType, const GeluBackwardArgs&) { no_cuda(); }
void layer_norm_backward(int, DType, const LayerNormBackwardArgs&) { no_cuda(); }
void mse_loss(int, DType, const MseLossArgs&) { no_cuda(); }
void mse_loss_backward(int, DType, const MseLossBackwardArgs&) { no_cuda(); }
std::string cublaslt_library() { return ""; }

}  // namespace natten::launch
