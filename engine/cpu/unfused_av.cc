// Unfused AV and its backward on the CPU (layout [B, H, ...spatial, Dv]). Weights at masked window
// positions are ignored; their gradient is 0. Real is the compute type: float (fp32 math for float32 and
// the half types) or double (float64).
#include <vector>

#include "elem_io.h"
#include "engine.h"
#include "parallel.h"
#include "real_view.h"
#include "unfused_window.h"

namespace natten::cpu::NATTEN_SIMD {
namespace {

template <class Real>
void av(const NaProblem& p, DType t, const AVArgs& a) {
  const int64_t N = p.tokens(), Dv = p.head_dim_v, BH = p.batch * p.heads, K = p.window_size();
  const int64_t cols = K + p.n_extra;
  const RealView<Real> at(a.attn, t, BH * N * cols), v(a.v, t, BH * N * Dv), ev(a.extra_v, t, BH * p.n_extra * Dv);
  parallel_for(BH * N, 16, [&](int64_t begin, int64_t end) {
    std::vector<Real> acc((size_t)Dv);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t bh = i / N, tok = i % N;
      const Real* w8 = at + i * cols;
      std::fill(acc.begin(), acc.end(), Real(0));
      for_each_position(p, token_window(p, tok), [&](int64_t w, int64_t key, int64_t) {
        if (key >= 0) axpy(w8[w], v + (bh * N + key) * Dv, acc.data(), Dv);
      });
      for (int64_t e = 0; e < p.n_extra; ++e) axpy(w8[K + e], ev + (bh * p.n_extra + e) * Dv, acc.data(), Dv);
      store_row(a.out, t, (size_t)(i * Dv), Dv, acc.data());
    }
  });
}

template <class Real>
void av_backward(const NaProblem& p, DType t, const AVBackwardArgs& a) {
  const int64_t N = p.tokens(), Dv = p.head_dim_v, BH = p.batch * p.heads, K = p.window_size();
  const int64_t cols = K + p.n_extra;
  const RealView<Real> go(a.d_out, t, BH * N * Dv), at(a.attn, t, BH * N * cols), v(a.v, t, BH * N * Dv),
      ev(a.extra_v, t, BH * p.n_extra * Dv);
  parallel_for(BH * N, 16, [&](int64_t begin, int64_t end) {
    std::vector<Real> row((size_t)cols);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t bh = i / N, tok = i % N;
      const Real* g = go + i * Dv;
      for_each_position(p, token_window(p, tok), [&](int64_t w, int64_t key, int64_t) {
        row[w] = key < 0 ? Real(0) : dot(g, v + (bh * N + key) * Dv, Dv);
      });
      for (int64_t e = 0; e < p.n_extra; ++e) row[K + e] = dot(g, ev + (bh * p.n_extra + e) * Dv, Dv);
      store_row(a.d_attn, t, (size_t)(i * cols), cols, row.data());
    }
  });
  parallel_for(BH * N, 16, [&](int64_t begin, int64_t end) {
    std::vector<Real> acc((size_t)Dv);
    for (int64_t j = begin; j < end; ++j) {
      const int64_t bh = j / N, key = j % N;
      std::fill(acc.begin(), acc.end(), Real(0));
      for_each_query_of(p, key, [&](int64_t qt, int64_t w) {
        axpy(at.get()[(bh * N + qt) * cols + w], go + (bh * N + qt) * Dv, acc.data(), Dv);
      });
      store_row(a.dv, t, (size_t)(j * Dv), Dv, acc.data());
    }
  });
  if (a.d_extra_v) {
    parallel_for(BH * p.n_extra, 1, [&](int64_t begin, int64_t end) {
      std::vector<Real> acc((size_t)Dv);
      for (int64_t i = begin; i < end; ++i) {
        const int64_t bh = i / p.n_extra, e = i % p.n_extra;
        std::fill(acc.begin(), acc.end(), Real(0));
        for (int64_t tok = 0; tok < N; ++tok)
          axpy(at.get()[(bh * N + tok) * cols + K + e], go + (bh * N + tok) * Dv, acc.data(), Dv);
        store_row(a.d_extra_v, t, (size_t)(i * Dv), Dv, acc.data());
      }
    });
  }
}

}  // namespace

void na_av(const NaProblem& p, DType t, const AVArgs& a) {
  with_compute_type(t, [&](auto real) { av<decltype(real)>(p, t, a); });
}

void na_av_backward(const NaProblem& p, DType t, const AVBackwardArgs& a) {
  with_compute_type(t, [&](auto real) { av_backward<decltype(real)>(p, t, a); });
}

}  // namespace natten::cpu::NATTEN_SIMD
