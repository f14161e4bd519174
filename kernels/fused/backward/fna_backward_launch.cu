// The launch layer's entry to the fast fused backward (fna_backward.h: try_backward): device checks,
// planning, a stream-ordered workspace, launch.
#include <string>

#include "../../runtime/cuda_check.h"
#include "../../runtime/device_caps.h"
#include "../../runtime/gpu_runtime.h"
#include "fna_backward.h"

namespace natten::fused {

bool try_backward(int device, cudaStream_t stream, const NaProblem& p, DType t, const FusedBackwardArgs& a,
                  const FusedConfig& c) {
  const bool tiles_given =
      tile_given(c.backward_q_tile) || tile_given(c.backward_kv_tile) || c.backward_arch != 0;
  if (c.use_reference) return false;
  const DeviceCaps caps = device_caps(device);  // the only device query of the plan
  const std::string why = backward_unsupported_reason(p, t, a, caps);
  if (!why.empty()) {
    if (tiles_given)
      throw Error(ErrorKind::Range, "ERR_NATTEN_UNSUPPORTED",
                  "backwardQTileShape/backwardKvTileShape/backwardKernel select a tensor-core fused backward config, "
                  "but this "
                  "problem cannot use one: " +
                      why);
    return false;
  }
  const BackwardPlan plan = plan_backward(p, t, c, caps);  // validates the tile shapes
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  if (p.tokens() == 0 || p.batch == 0 || p.heads == 0) {
    // No queries: the extra keys/values get zero gradients; everything else is empty.
    if (p.n_extra > 0 && p.batch > 0 && p.heads_kv > 0) {
      const size_t n = (size_t)(p.batch * p.n_extra * p.heads_kv);
      NATTEN_CUDA_CHECK(cudaMemsetAsync(a.d_extra_k, 0, n * p.head_dim * dtype_size(t), stream));
      NATTEN_CUDA_CHECK(cudaMemsetAsync(a.d_extra_v, 0, n * p.head_dim_v * dtype_size(t), stream));
    }
    return true;
  }
  gpu::DeviceScratch ws(device, plan.workspace_bytes());  // freed after the kernels that use it
  run_backward(p, t, a, plan, ws.data(), stream);
  return true;
}

}  // namespace natten::fused
