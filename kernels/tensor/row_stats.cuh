// Warp-per-row statistics shared by the layer-norm forward and backward kernels: a warp's sum, and a row's
// mean and 1/sqrt(var + eps) in two passes (no cancellation of E[x²] - E[x]²), fp32.
#pragma once
#include "../runtime/element.cuh"

namespace natten::tensor {

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

/// Mean and 1/sqrt(biased var + eps) of row xr [C], computed by the 32 lanes of a warp (every lane gets them).
template <typename T>
__device__ __forceinline__ void row_stats(const T* xr, int64_t C, int lane, float eps, float& mean, float& rstd) {
  float s = 0.f;
  for (int64_t c = lane; c < C; c += 32) s += cuda::ld(xr + c);
  mean = warp_sum(s) / (float)C;
  float v = 0.f;
  for (int64_t c = lane; c < C; c += 32) {
    const float d = cuda::ld(xr + c) - mean;
    v += d * d;
  }
  rstd = rsqrtf(warp_sum(v) / (float)C + eps);
}

}  // namespace natten::tensor
