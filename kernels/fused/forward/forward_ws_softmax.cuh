// Online softmax of the 'wgmma-ws' forward (base 2, scale * log2(e) folded into one FFMA per score, as in
// the other fused kernels), for one thread's two accumulator rows (wgmma m64nN layout: the four lanes of a
// quad share a row).
#pragma once
#include <math.h>
#include <math_constants.h>

#include "../../runtime/sm80_mma.h"
#include "online_softmax.cuh"

namespace natten::fused {

template <int Blocks>
struct WsSoftmax : OnlineSoftmaxRows {
  /// Replaces the raw (masked: -inf) scores of a tile by P = 2^(score * scale_log2 - m) and returns per row
  /// the factor alpha by which O (accumulated against the previous max) must be rescaled.
  __device__ __forceinline__ void step(float (&s)[Blocks * 4], float scale_log2, float (&alpha)[2]) {
    float mx[2] = {-CUDART_INF_F, -CUDART_INF_F};
#pragma unroll
    for (int i = 0; i < Blocks * 4; ++i) mx[(i >> 1) & 1] = fmaxf(mx[(i >> 1) & 1], s[i]);
    float m_use[2];
    update(mx, scale_log2, m_use, alpha);
#pragma unroll
    for (int i = 0; i < Blocks * 4; ++i) {
      const int r = (i >> 1) & 1;
      const float p = exp2_approx(fmaf(s[i], scale_log2, -m_use[r]));
      s[i] = p;
      l[r] += p;
    }
  }
};

}  // namespace natten::fused
