// na_ops.h for CPU-only builds: every entry reports that CUDA was not compiled.
#include "na_ops.h"

namespace natten::launch {
namespace {
[[noreturn]] void no_cuda() {
  throw Error(ErrorKind::Natten, "ERR_NATTEN_NO_CUDA", "this natten-node addon was built without CUDA");
}
}  // namespace

void na_forward(int, const NaProblem&, DType, const FusedForwardArgs&, const FusedConfig&) { no_cuda(); }
void na_backward(int, const NaProblem&, DType, const FusedBackwardArgs&, const FusedConfig&) { no_cuda(); }
void na_qk(int, const NaProblem&, DType, const QKArgs&) { no_cuda(); }
void na_av(int, const NaProblem&, DType, const AVArgs&) { no_cuda(); }
void na_qk_backward(int, const NaProblem&, DType, const QKBackwardArgs&) { no_cuda(); }
void na_av_backward(int, const NaProblem&, DType, const AVBackwardArgs&) { no_cuda(); }
void softmax(int, DType, const SoftmaxArgs&) { no_cuda(); }
void softmax_backward(int, DType, const SoftmaxBackwardArgs&) { no_cuda(); }
void fused_to_unfused(int, DType, int64_t, int64_t, int64_t, int64_t, int64_t, const void*, void*) { no_cuda(); }
void unfused_to_fused(int, DType, int64_t, int64_t, int64_t, int64_t, int64_t, const void*, void*) { no_cuda(); }
void scale(int, DType, int64_t, const void*, void*, double) { no_cuda(); }
void merge_attentions(int, DType, int, const void* const*, const float* const*, int64_t, int64_t, void*, float*) {
  no_cuda();
}
bool has_fused(int) { return false; }

}  // namespace natten::launch
