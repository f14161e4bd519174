// na_ops.h's fused entries: the fast tensor-core kernels where they exist (none yet: has_fused is false),
// the reference kernels otherwise or when the config asks for them.
#include "na_ops.h"
#include "reference_launch.h"

namespace natten::launch {

bool has_fused(int device) { return false; }

void na_forward(int device, const NaProblem& p, DType t, const FusedForwardArgs& a, const FusedConfig& c) {
  reference_forward(device, p, t, a);
}

void na_backward(int device, const NaProblem& p, DType t, const FusedBackwardArgs& a, const FusedConfig& c) {
  reference_backward(device, p, t, a);
}

}  // namespace natten::launch
