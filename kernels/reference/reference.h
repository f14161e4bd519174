// Host entry points of the reference fused-NA kernels (fused layout [B, ...spatial, H, D], fp32 math).
// They are the on-GPU oracle of the fast kernels and the fused fallback where no fast kernel exists.
// `p` must be a three-axis problem (cuda::as_3d). Kernels are enqueued on `stream`; nothing blocks.
#pragma once
#include <cuda_runtime.h>

#include "../common/dtype.h"
#include "../common/op_args.h"

namespace natten::reference {

/// O and LSE (LSE may be null).
void launch_forward(cudaStream_t stream, const NaProblem& p, DType t, const FusedForwardArgs& a);

/// dQ, dK, dV (and extra-KV gradients). `delta` is fp32 scratch of B * N * H elements (rowsum(dO * O)).
void launch_backward(cudaStream_t stream, const NaProblem& p, DType t, const FusedBackwardArgs& a, float* delta);

}  // namespace natten::reference
