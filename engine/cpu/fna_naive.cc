// The benchmark's baseline: fused NA forward as a textbook loop, one query at a time on one thread,
// every window position visited through the per-axis windows of kernels/common/window.h.
#include <math.h>

#include <algorithm>
#include <vector>

#include "elem_io.h"
#include "engine.h"

namespace natten::cpu::NATTEN_SIMD {

void fna_forward_naive(const NaProblem& p, DType t, const FusedForwardArgs& a) {
  const int64_t N = p.tokens(), D = p.head_dim, Dv = p.head_dim_v, H = p.heads, Hkv = p.heads_kv;
  std::vector<float> q(D), sc, acc(Dv), kr(D), vr(Dv);
  std::vector<int64_t> keys;
  int coord[kMaxDims], kc[kMaxDims];
  Range w[kMaxDims];
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t tok = 0; tok < N; ++tok) {
      int64_t rest = tok;
      for (int ax = p.dims - 1; ax >= 0; --ax) {
        coord[ax] = (int)(rest % p.length[ax]);
        rest /= p.length[ax];
      }
      for (int ax = 0; ax < p.dims; ++ax) w[ax] = axis_window(p.axis(ax), coord[ax]);
      for (int64_t h = 0; h < H; ++h) {
        const int64_t hk = p.kv_head(h);
        load_row(a.q, t, (size_t)(((b * N + tok) * H + h) * D), D, q.data());
        sc.clear();
        keys.clear();
        // Enumerate the window (cartesian product over axes).
        int idx[kMaxDims] = {0, 0, 0};
        for (int ax = 0; ax < p.dims; ++ax) idx[ax] = w[ax].start;
        bool done = false;
        while (!done) {
          int64_t ktok = 0;
          for (int ax = 0; ax < p.dims; ++ax) {
            kc[ax] = idx[ax] * p.dilation[ax] + coord[ax] % p.dilation[ax];
            ktok = ktok * p.length[ax] + kc[ax];
          }
          keys.push_back(ktok);
          int ax = p.dims - 1;
          while (ax >= 0 && ++idx[ax] == w[ax].end) {
            idx[ax] = w[ax].start;
            --ax;
          }
          done = ax < 0;
        }
        float mx = -INFINITY;
        for (int64_t kt : keys) {
          load_row(a.k, t, (size_t)(((b * N + kt) * Hkv + hk) * D), D, kr.data());
          float s = 0.f;
          for (int64_t d = 0; d < D; ++d) s += q[d] * kr[d];
          sc.push_back(s * p.scale);
          mx = std::max(mx, sc.back());
        }
        for (int64_t e = 0; e < p.n_extra; ++e) {
          load_row(a.extra_k, t, (size_t)(((b * p.n_extra + e) * Hkv + hk) * D), D, kr.data());
          float s = 0.f;
          for (int64_t d = 0; d < D; ++d) s += q[d] * kr[d];
          sc.push_back(s * p.scale);
          mx = std::max(mx, sc.back());
        }
        float sum = 0.f;
        std::fill(acc.begin(), acc.end(), 0.f);
        for (size_t i = 0; i < sc.size(); ++i) {
          const float e = expf(sc[i] - mx);
          sum += e;
          if (i < keys.size()) load_row(a.v, t, (size_t)(((b * N + keys[i]) * Hkv + hk) * Dv), Dv, vr.data());
          else
            load_row(a.extra_v, t, (size_t)(((b * p.n_extra + (int64_t)(i - keys.size())) * Hkv + hk) * Dv), Dv,
                     vr.data());
          for (int64_t c = 0; c < Dv; ++c) acc[c] += e * vr[c];
        }
        for (int64_t c = 0; c < Dv; ++c) acc[c] /= sum;
        store_row(a.out, t, (size_t)(((b * N + tok) * H + h) * Dv), Dv, acc.data());
        if (a.lse) a.lse[(b * N + tok) * H + h] = mx + logf(sum);
      }
    }
  }
}

}  // namespace natten::cpu::NATTEN_SIMD
