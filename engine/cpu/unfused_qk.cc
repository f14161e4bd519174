// Unfused QK and its backward on the CPU (layout [B, H, ...spatial, D]; attention [B, H, ...spatial,
// prod(kernel) + nExtra], window positions in row-major kernel order, -inf where a causal window is short).
// Real is the compute type: float (fp32 math for float32 and the half types) or double (float64).
#include <math.h>

#include <vector>

#include "elem_io.h"
#include "engine.h"
#include "parallel.h"
#include "real_view.h"
#include "unfused_window.h"

namespace natten::cpu::NATTEN_SIMD {
namespace {

template <class Real>
void qk(const NaProblem& p, DType t, const QKArgs& a) {
  const int64_t N = p.tokens(), D = p.head_dim, BH = p.batch * p.heads, K = p.window_size();
  const int64_t cols = K + p.n_extra;
  const RealView<Real> q(a.q, t, BH * N * D), k(a.k, t, BH * N * D), ek(a.extra_k, t, BH * p.n_extra * D);
  int64_t rpb_per_head = 1;
  for (int ax = 0; ax < p.dims; ++ax) rpb_per_head *= 2 * p.kernel[ax] - 1;
  const RealView<Real> rpb(a.rpb, t, p.heads * rpb_per_head);
  parallel_for(BH * N, 16, [&](int64_t begin, int64_t end) {
    std::vector<Real> row((size_t)cols);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t bh = i / N, tok = i % N, h = bh % p.heads;
      const Real* qi = q + i * D;
      const Real* kb = k + bh * N * D;
      const TokenWindow tw = token_window(p, tok);
      for_each_position(p, tw, [&](int64_t w, int64_t key, int64_t r) {
        if (key < 0) {
          row[w] = -INFINITY;
          return;
        }
        Real s = dot(qi, kb + key * D, D);
        if (a.rpb) s += rpb.get()[h * rpb_per_head + r];
        row[w] = s;
      });
      for (int64_t e = 0; e < p.n_extra; ++e) row[K + e] = dot(qi, ek + (bh * p.n_extra + e) * D, D);
      store_row(a.attn, t, (size_t)(i * cols), cols, row.data());
    }
  });
}

template <class Real>
void qk_backward(const NaProblem& p, DType t, const QKBackwardArgs& a) {
  const int64_t N = p.tokens(), D = p.head_dim, BH = p.batch * p.heads, K = p.window_size();
  const int64_t cols = K + p.n_extra;
  const RealView<Real> da(a.d_attn, t, BH * N * cols), q(a.q, t, BH * N * D), k(a.k, t, BH * N * D),
      ek(a.extra_k, t, BH * p.n_extra * D);
  // dQ: query-centric; dK: key-centric over the inverse window (no write conflicts).
  parallel_for(BH * N, 16, [&](int64_t begin, int64_t end) {
    std::vector<Real> acc((size_t)D);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t bh = i / N, tok = i % N;
      const Real* g = da + i * cols;
      std::fill(acc.begin(), acc.end(), Real(0));
      const TokenWindow tw = token_window(p, tok);
      for_each_position(p, tw, [&](int64_t w, int64_t key, int64_t) {
        if (key >= 0) axpy(g[w], k + (bh * N + key) * D, acc.data(), D);
      });
      for (int64_t e = 0; e < p.n_extra; ++e) axpy(g[K + e], ek + (bh * p.n_extra + e) * D, acc.data(), D);
      store_row(a.dq, t, (size_t)(i * D), D, acc.data());
    }
  });
  parallel_for(BH * N, 16, [&](int64_t begin, int64_t end) {
    std::vector<Real> acc((size_t)D);
    for (int64_t j = begin; j < end; ++j) {
      const int64_t bh = j / N, key = j % N;
      std::fill(acc.begin(), acc.end(), Real(0));
      for_each_query_of(p, key, [&](int64_t qt, int64_t w) {
        axpy(da.get()[(bh * N + qt) * cols + w], q + (bh * N + qt) * D, acc.data(), D);
      });
      store_row(a.dk, t, (size_t)(j * D), D, acc.data());
    }
  });
  if (a.d_rpb) {
    int64_t R = 1;
    for (int ax = 0; ax < p.dims; ++ax) R *= 2 * p.kernel[ax] - 1;
    parallel_for(p.heads, 1, [&](int64_t begin, int64_t end) {
      std::vector<double> acc((size_t)R);
      for (int64_t h = begin; h < end; ++h) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t b = 0; b < p.batch; ++b)
          for (int64_t tok = 0; tok < N; ++tok) {
            const Real* g = da + ((b * p.heads + h) * N + tok) * cols;
            for_each_position(p, token_window(p, tok), [&](int64_t w, int64_t key, int64_t r) {
              if (key >= 0) acc[r] += g[w];
            });
          }
        store_row(a.d_rpb, t, (size_t)(h * R), R, acc.data());
      }
    });
  }
  if (a.d_extra_k) {
    parallel_for(BH * p.n_extra, 1, [&](int64_t begin, int64_t end) {
      std::vector<Real> acc((size_t)D);
      for (int64_t i = begin; i < end; ++i) {
        const int64_t bh = i / p.n_extra, e = i % p.n_extra;
        std::fill(acc.begin(), acc.end(), Real(0));
        for (int64_t tok = 0; tok < N; ++tok)
          axpy(da.get()[(bh * N + tok) * cols + K + e], q + (bh * N + tok) * D, acc.data(), D);
        store_row(a.d_extra_k, t, (size_t)(i * D), D, acc.data());
      }
    });
  }
}

}  // namespace

void na_qk(const NaProblem& p, DType t, const QKArgs& a) {
  with_compute_type(t, [&](auto real) { qk<decltype(real)>(p, t, a); });
}

void na_qk_backward(const NaProblem& p, DType t, const QKBackwardArgs& a) {
  with_compute_type(t, [&](auto real) { qk_backward<decltype(real)>(p, t, a); });
}

}  // namespace natten::cpu::NATTEN_SIMD
