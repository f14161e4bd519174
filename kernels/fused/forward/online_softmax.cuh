// The running state of the fused forwards' online softmax for one thread's two accumulator rows (the
// m16n8 / wgmma m64nN layouts: a quad of lanes shares a row), in base 2 with scale * log2(e) folded into
// one multiply: the per-row max and sum updates and the epilogue's 1/l and LSE. Shared by the mma/wgmma
// kernel (forward_kernel.cuh) and the warp-specialised one (forward_ws_softmax.cuh); each applies the
// exponentials over its own fragment layout.
#pragma once
#include <math.h>
#include <math_constants.h>

#include "../../runtime/sm80_mma.h"

namespace natten::fused {

struct OnlineSoftmaxRows {
  float m[2];  // running max of scaled (base-2) scores
  float l[2];  // this thread's share of the running sum

  __device__ __forceinline__ OnlineSoftmaxRows() : m{-INFINITY, -INFINITY}, l{0.f, 0.f} {}

  /// Takes this thread's raw tile max per row `mx` (masked scores: -inf), reduces it over the quad, moves
  /// the running max, and gives per row the offset `m_use` of the exponentials (finite even while every key
  /// so far is masked) and the factor `alpha` by which O must be rescaled (l is rescaled here).
  /// scale_log2 > 0, so the max of raw scores is the max of scaled ones.
  __device__ __forceinline__ void update(float (&mx)[2], float scale_log2, float (&m_use)[2], float (&alpha)[2]) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
      const float m_new = fmaxf(m[r], mx[r] * scale_log2);  // base-2 scaled units (-inf stays)
      m_use[r] = m_new == -CUDART_INF_F ? 0.f : m_new;
      alpha[r] = exp2_approx(m[r] - m_use[r]);
      m[r] = m_new;
      l[r] *= alpha[r];
    }
  }

  /// 1 / row sum (0 for a row that saw no key: O = 0) and the LSE (natural log; -inf without keys).
  __device__ __forceinline__ void finish(float (&inv)[2], float (&lse)[2]) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
      l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
      const bool any = l[r] > 0.f;
      inv[r] = any ? 1.f / l[r] : 0.f;
      lse[r] = any ? (m[r] + log2_approx(l[r])) * kLn2 : -CUDART_INF_F;
    }
  }
};

}  // namespace natten::fused
