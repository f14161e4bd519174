// optim_ops.h for CPU-only builds: every entry reports that CUDA was not compiled.
#include "optim_ops.h"

namespace natten::launch {
namespace {
[[noreturn]] void no_cuda() {
  throw Error(ErrorKind::Natten, "ERR_NATTEN_NO_CUDA", "this natten-node addon was built without CUDA");
}
}  // namespace

void optim_step(int, DType, const OptimStepArgs&) { no_cuda(); }
void unscale_grads(int, DType, const UnscaleArgs&) { no_cuda(); }

}  // namespace natten::launch
