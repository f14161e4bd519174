// Online softmax of the 'wgmma-ws' forward (base 2, scale * log2(e) folded into one FFMA per score, as in
// the other fused kernels), for one thread's two accumulator rows (wgmma m64nN layout: the four lanes of a
// quad share a row).
#pragma once
#include <math.h>
#include <math_constants.h>

#include "../../runtime/sm80_mma.h"

namespace natten::fused {

template <int Blocks>
struct WsSoftmax {
  float m[2];  // running max of scaled (base-2) scores
  float l[2];  // this thread's share of the running sum

  __device__ __forceinline__ WsSoftmax() : m{-INFINITY, -INFINITY}, l{0.f, 0.f} {}

  /// Replaces the raw (masked: -inf) scores of a tile by P = 2^(score * scale_log2 - m) and returns per row
  /// the factor alpha by which O (accumulated against the previous max) must be rescaled. scale_log2 > 0,
  /// so the max of raw scores is the max of scaled ones.
  __device__ __forceinline__ void step(float (&s)[Blocks * 4], float scale_log2, float (&alpha)[2]) {
    float mx[2] = {-CUDART_INF_F, -CUDART_INF_F};
#pragma unroll
    for (int i = 0; i < Blocks * 4; ++i) mx[(i >> 1) & 1] = fmaxf(mx[(i >> 1) & 1], s[i]);
    float m_use[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
      const float m_new = fmaxf(m[r], mx[r] * scale_log2);
      m_use[r] = m_new == -CUDART_INF_F ? 0.f : m_new;  // every key masked so far: keep exp2 arguments finite
      alpha[r] = exp2_approx(m[r] - m_use[r]);
      m[r] = m_new;
      l[r] *= alpha[r];
    }
#pragma unroll
    for (int i = 0; i < Blocks * 4; ++i) {
      const int r = (i >> 1) & 1;
      const float p = exp2_approx(fmaf(s[i], scale_log2, -m_use[r]));
      s[i] = p;
      l[r] += p;
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
