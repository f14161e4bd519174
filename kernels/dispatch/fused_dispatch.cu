// na_ops.h's fused entries: the tensor-core forward (kernels/fused/forward/forward.h) where it applies, the reference
// kernels otherwise or when the config asks for them.
#include <cuda_runtime.h>

#include "../fused/backward/fna_backward.h"
#include "../fused/forward/forward.h"
#include "../runtime/device_caps.h"
#include "../runtime/gpu_runtime.h"
#include "na_ops.h"
#include "reference_launch.h"

namespace natten::launch {

bool has_fused(int device) { return fused::device_caps(device).runs_fused_kernels(); }

void na_forward(int device, const NaProblem& p, DType t, const FusedForwardArgs& a, const FusedConfig& c) {
  // Tensor-core path (fp16/bf16, sm_80+, head dims multiples of 8 up to 256); everything else: reference.
  check_problem(p, "na_forward", true);
  if (fused::try_forward(device, static_cast<cudaStream_t>(gpu::stream(device)), p, t, a, c)) return;
  reference_forward(device, p, t, a);
}

void na_backward(int device, const NaProblem& p, DType t, const FusedBackwardArgs& a, const FusedConfig& c) {
  // Tensor-core backward (fp16/bf16, sm_80+, head dims multiples of 8 up to 128); everything else: reference.
  check_problem(p, "na_backward", true);
  if (fused::try_backward(device, static_cast<cudaStream_t>(gpu::stream(device)), p, t, a, c)) return;
  reference_backward(device, p, t, a);
}

}  // namespace natten::launch
