// Small helper kernels of the fused NA backward:
//   - Delta = rowsum(dO o O) per (token, head), fp32, before the main kernels (FlashAttention-2's D);
//   - the fp32 dQ accumulator of the KV-parallel mode, times the scale, to the output dtype;
//   - the fixed-order sum of the extra-KV pass's per-split fp32 partials to dAdditionalKeys/Values.
#pragma once
#include <stdint.h>
#include "../../runtime/sm80_mma.h"

namespace natten::fused {

/// Threads per row of the Delta kernel: each reads 8 elements (16 bytes) of dO and of O per step.
constexpr int kDeltaLanes = 8;

/// delta[row] = sum_d dO[row, d] * O[row, d] for rows x dim (dim a multiple of 8, rows 16-byte aligned).
template <class Tag>
__global__ void fna_backward_delta_kernel(const void* d_out, const void* out, float* delta, int64_t rows, int dim) {
  using S = typename Tag::Storage;
  const int64_t row = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / kDeltaLanes;
  const int sub = threadIdx.x % kDeltaLanes;
  float acc = 0.f;
  if (row < rows) {
    const S* a = static_cast<const S*>(d_out) + row * dim;
    const S* o = static_cast<const S*>(out) + row * dim;
    for (int d = sub * 8; d < dim; d += kDeltaLanes * 8) {
      const uint4 va = *reinterpret_cast<const uint4*>(a + d);
      const uint4 vo = *reinterpret_cast<const uint4*>(o + d);
      const S* ea = reinterpret_cast<const S*>(&va);
      const S* eo = reinterpret_cast<const S*>(&vo);
#pragma unroll
      for (int i = 0; i < 8; ++i) acc += (float)ea[i] * (float)eo[i];
    }
  }
#pragma unroll
  for (int off = kDeltaLanes / 2; off > 0; off /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, off);
  if (row < rows && sub == 0) delta[row] = acc;
}

/// out[i] = dtype(acc[i] * scale), n elements.
template <class Tag>
__global__ void fna_backward_dq_convert_kernel(const float* acc, void* out, float scale, int64_t n) {
  using S = typename Tag::Storage;
  S* o = static_cast<S*>(out);
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    o[i] = S(acc[i] * scale);
}

/// out[i] = dtype(sum over s of part[s * n + i]) in the order s = 0, 1, ...: deterministic.
template <class Tag>
__global__ void fna_backward_split_reduce_kernel(const float* part, void* out, int splits, int64_t n) {
  using S = typename Tag::Storage;
  S* o = static_cast<S*>(out);
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float sum = 0.f;
    for (int s = 0; s < splits; ++s) sum += part[s * n + i];
    o[i] = S(sum);
  }
}

}  // namespace natten::fused
