// Placeholder CUDA implementation of na_ops.h until the reference/unfused and fused kernels land:
// every op reports ERR_NATTEN_UNSUPPORTED. Replaced file by file by kernels/launch/*_launch.cu.
#include "na_ops.h"

namespace natten::launch {
namespace {
[[noreturn]] void pending(const char* op) {
  throw Error(ErrorKind::Natten, "ERR_NATTEN_UNSUPPORTED", std::string(op) + " has no CUDA kernel yet");
}
}  // namespace

void na_forward(int, const NaProblem&, DType, const FusedForwardArgs&, const FusedConfig&) { pending("na_forward"); }
void na_backward(int, const NaProblem&, DType, const FusedBackwardArgs&, const FusedConfig&) { pending("na_backward"); }
void na_qk(int, const NaProblem&, DType, const QKArgs&) { pending("na_qk"); }
void na_av(int, const NaProblem&, DType, const AVArgs&) { pending("na_av"); }
void na_qk_backward(int, const NaProblem&, DType, const QKBackwardArgs&) { pending("na_qk_backward"); }
void na_av_backward(int, const NaProblem&, DType, const AVBackwardArgs&) { pending("na_av_backward"); }
void softmax(int, DType, const SoftmaxArgs&) { pending("softmax"); }
void softmax_backward(int, DType, const SoftmaxBackwardArgs&) { pending("softmax_backward"); }
bool has_fused(int) { return false; }

}  // namespace natten::launch
