// Launcher of window_reduce_inverse (inverse-window reduction); the kernel and its tile planner are in
// window_reduce_inverse_kernel.cuh.
#include "../runtime/cuda_check.h"
#include "../runtime/launch_util.h"
#include "window_reduce_inverse_kernel.cuh"

namespace natten::unfused {

using namespace inverse_kernel;

void window_reduce_inverse(cudaStream_t s, const DeviceLimits& dev, const NaProblem& p, DType t, int64_t channels,
                           const void* attn, int64_t cols, const void* x, void* out) {
  if (p.batch * p.heads * p.tokens() == 0 || channels == 0) return;
  const InversePlan plan = choose_plan(p, channels, dev.smem_optin, two_ctas_per_sm(dev));
  cuda::grid_for(plan.grid.ctas, 1, "unfused NA backward");
  cuda::dispatch_dtype(t, "unfused NA backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    cuda::launch(window_reduce_inverse_kernel<T>, (unsigned)plan.grid.ctas, kThreads, plan.smem, s, p, plan, channels,
                 static_cast<const T*>(attn), cols, static_cast<const T*>(x), static_cast<T*>(out),
                 rows_vectorizable(static_cast<const T*>(x), channels));
  });
}

}  // namespace natten::unfused
