// Launcher of window_dot (QK-like window dot products); the kernel and its tile planner are in window_dot_kernel.cuh.
#include "../runtime/cuda_check.h"
#include "../runtime/launch_util.h"
#include "window_dot_kernel.cuh"

namespace natten::unfused {

using namespace dot_kernel;

void window_dot(cudaStream_t s, const DeviceLimits& dev, const NaProblem& p, DType t, int64_t channels, const void* x,
                const void* y, const void* rpb, float mask_value, void* attn, int64_t cols) {
  if (p.batch * p.heads * p.tokens() == 0) return;
  const DotPlan plan = choose_plan(p, channels, dev.smem_optin, two_ctas_per_sm(dev));
  cuda::grid_for(plan.grid.ctas, 1, "unfused QK");
  cuda::dispatch_dtype(t, "unfused QK", [&](auto tag) {
    using T = typename decltype(tag)::type;
    cuda::launch(
        window_dot_kernel<T>, (unsigned)plan.grid.ctas, kThreads, plan.smem, s, p, plan, channels,
        static_cast<const T*>(x), static_cast<const T*>(y), static_cast<const T*>(rpb), mask_value,
        static_cast<T*>(attn), cols,
        rows_vectorizable(static_cast<const T*>(x), channels) && rows_vectorizable(static_cast<const T*>(y), channels));
  });
}

}  // namespace natten::unfused
