// Fused NA forward and backward in float64, one query row (batch, token, head) at a time, over the
// windows of kernels/common/window.h as unfused_window.h enumerates them (the same row-major kernel order
// and inverse windows as the unfused ops). Slow by design: it serves gradient checks, not throughput.
//   forward:  s = scale q.k over the window and the additional keys, lse = log sum exp s,
//             out = sum exp(s - lse) v
//   backward: P = exp(s - lse) with lse recomputed here, dP = dO.v, dS = P (dP - rowsum(dO * O)),
//             dQ = scale sum dS k (query rows), then dK = scale sum dS q and dV = sum P dO over the
//             queries of each key (inverse windows, every query head of the kv head), then the additional
//             keys/values summed over all queries. P and dS of every row are kept between the passes.
#include "fna_f64.h"

#include <cmath>
#include <vector>

#include "host_buffer.h"
#include "parallel.h"
#include "real_view.h"
#include "unfused_window.h"

namespace natten::cpu::NATTEN_SIMD {
namespace {

/// Sizes and element offsets of a fused problem (layout of kernels/common/problem.h).
struct Layout {
  const NaProblem& p;
  int64_t N, H, Hkv, G, D, Dv, K, cols;

  explicit Layout(const NaProblem& prob)
      : p(prob),
        N(prob.tokens()),
        H(prob.heads),
        Hkv(prob.heads_kv),
        G(prob.heads / prob.heads_kv),
        D(prob.head_dim),
        Dv(prob.head_dim_v),
        K(prob.window_size()),
        cols(prob.window_size() + prob.n_extra) {}
  int64_t rows() const { return p.batch * N * H; }
  /// Query row r = (b * N + token) * H + h: its batch, token and head.
  int64_t batch_of(int64_t r) const { return r / (N * H); }
  int64_t token_of(int64_t r) const { return (r / H) % N; }
  int64_t kv_row(int64_t b, int64_t token, int64_t hk) const { return (b * N + token) * Hkv + hk; }
  int64_t extra_row(int64_t b, int64_t e, int64_t hk) const { return (b * p.n_extra + e) * Hkv + hk; }
};

/// The keys of one query row: window position w -> key token (-1 where a causal window is short).
std::vector<int64_t> row_keys(const Layout& l, int64_t token) {
  std::vector<int64_t> keys((size_t)l.K);
  for_each_position(l.p, token_window(l.p, token), [&](int64_t w, int64_t key, int64_t) { keys[w] = key; });
  return keys;
}

/// Scores of query row r (window positions, then additional keys; -inf where masked) and their
/// logsumexp.
double row_scores(const Layout& l, const double* q, const double* k, const double* ek, int64_t r,
                  const std::vector<int64_t>& keys, double* s) {
  const int64_t b = l.batch_of(r), hk = l.p.kv_head(r % l.H);
  const double* qr = q + r * l.D;
  double m = -INFINITY;
  for (int64_t c = 0; c < l.cols; ++c) {
    const double* kr =
        c < l.K ? (keys[c] < 0 ? nullptr : k + l.kv_row(b, keys[c], hk) * l.D) : ek + l.extra_row(b, c - l.K, hk) * l.D;
    s[c] = kr ? l.p.scale_f64 * dot(qr, kr, l.D) : -INFINITY;
    m = s[c] > m ? s[c] : m;
  }
  double sum = 0.0;
  for (int64_t c = 0; c < l.cols; ++c) sum += std::exp(s[c] - m);
  return m + std::log(sum);
}

/// The value row of column c of query row r (nullptr where masked).
const double* value_row(const Layout& l, const double* v, const double* ev, int64_t r, const std::vector<int64_t>& keys,
                        int64_t c) {
  const int64_t b = l.batch_of(r), hk = l.p.kv_head(r % l.H);
  if (c >= l.K) return ev + l.extra_row(b, c - l.K, hk) * l.Dv;
  return keys[c] < 0 ? nullptr : v + l.kv_row(b, keys[c], hk) * l.Dv;
}

/// The key row of column c of query row r (nullptr where masked).
const double* key_row(const Layout& l, const double* k, const double* ek, int64_t r, const std::vector<int64_t>& keys,
                      int64_t c) {
  const int64_t b = l.batch_of(r), hk = l.p.kv_head(r % l.H);
  if (c >= l.K) return ek + l.extra_row(b, c - l.K, hk) * l.D;
  return keys[c] < 0 ? nullptr : k + l.kv_row(b, keys[c], hk) * l.D;
}

const double* in(const void* p) { return static_cast<const double*>(p); }
double* out(void* p) { return static_cast<double*>(p); }

/// P and dS of every query row ([rows][cols]), and dQ, from the query side.
void probs_and_dq(const Layout& l, const FusedBackwardArgs& a, double* P, double* dS) {
  parallel_for(l.rows(), 4, [&](int64_t begin, int64_t end) {
    std::vector<double> s((size_t)l.cols);
    for (int64_t r = begin; r < end; ++r) {
      const std::vector<int64_t> keys = row_keys(l, l.token_of(r));
      const double lse = row_scores(l, in(a.q), in(a.k), in(a.extra_k), r, keys, s.data());
      const double* go = in(a.d_out) + r * l.Dv;
      const double delta = dot(go, in(a.out) + r * l.Dv, l.Dv);
      double* dq = out(a.dq) + r * l.D;
      std::fill(dq, dq + l.D, 0.0);
      for (int64_t c = 0; c < l.cols; ++c) {
        const double* vr = value_row(l, in(a.v), in(a.extra_v), r, keys, c);
        const double pr = vr ? std::exp(s[c] - lse) : 0.0;
        const double ds = vr ? pr * (dot(go, vr, l.Dv) - delta) : 0.0;
        P[r * l.cols + c] = pr;
        dS[r * l.cols + c] = ds;
        if (vr) axpy(ds * l.p.scale_f64, key_row(l, in(a.k), in(a.extra_k), r, keys, c), dq, l.D);
      }
    }
  });
}

/// dK and dV of every key token, from the queries of its inverse window (all query heads of its kv head).
void dk_dv(const Layout& l, const FusedBackwardArgs& a, const double* P, const double* dS) {
  parallel_for(l.p.batch * l.N * l.Hkv, 4, [&](int64_t begin, int64_t end) {
    for (int64_t kr = begin; kr < end; ++kr) {
      const int64_t hk = kr % l.Hkv, key = (kr / l.Hkv) % l.N, b = kr / (l.Hkv * l.N);
      double* dk = out(a.dk) + kr * l.D;
      double* dv = out(a.dv) + kr * l.Dv;
      std::fill(dk, dk + l.D, 0.0);
      std::fill(dv, dv + l.Dv, 0.0);
      for_each_query_of(l.p, key, [&](int64_t qt, int64_t w) {
        for (int64_t h = hk * l.G; h < (hk + 1) * l.G; ++h) {
          const int64_t r = (b * l.N + qt) * l.H + h;
          axpy(dS[r * l.cols + w] * l.p.scale_f64, in(a.q) + r * l.D, dk, l.D);
          axpy(P[r * l.cols + w], in(a.d_out) + r * l.Dv, dv, l.Dv);
        }
      });
    }
  });
}

/// Gradients of the additional keys/values: every query row of the kv head's query heads.
void d_extra(const Layout& l, const FusedBackwardArgs& a, const double* P, const double* dS) {
  parallel_for(l.p.batch * l.p.n_extra * l.Hkv, 1, [&](int64_t begin, int64_t end) {
    for (int64_t er = begin; er < end; ++er) {
      const int64_t hk = er % l.Hkv, e = (er / l.Hkv) % l.p.n_extra, b = er / (l.Hkv * l.p.n_extra);
      double* dek = out(a.d_extra_k) + er * l.D;
      double* dev = out(a.d_extra_v) + er * l.Dv;
      std::fill(dek, dek + l.D, 0.0);
      std::fill(dev, dev + l.Dv, 0.0);
      for (int64_t token = 0; token < l.N; ++token)
        for (int64_t h = hk * l.G; h < (hk + 1) * l.G; ++h) {
          const int64_t r = (b * l.N + token) * l.H + h, c = l.K + e;
          axpy(dS[r * l.cols + c] * l.p.scale_f64, in(a.q) + r * l.D, dek, l.D);
          axpy(P[r * l.cols + c], in(a.d_out) + r * l.Dv, dev, l.Dv);
        }
    }
  });
}

}  // namespace

void fna_forward_f64(const NaProblem& p, const FusedForwardArgs& a) {
  const Layout l(p);
  parallel_for(l.rows(), 4, [&](int64_t begin, int64_t end) {
    std::vector<double> s((size_t)l.cols);
    for (int64_t r = begin; r < end; ++r) {
      const std::vector<int64_t> keys = row_keys(l, l.token_of(r));
      const double lse = row_scores(l, in(a.q), in(a.k), in(a.extra_k), r, keys, s.data());
      double* o = out(a.out) + r * l.Dv;
      std::fill(o, o + l.Dv, 0.0);
      for (int64_t c = 0; c < l.cols; ++c) {
        const double* vr = value_row(l, in(a.v), in(a.extra_v), r, keys, c);
        if (vr) axpy(std::exp(s[c] - lse), vr, o, l.Dv);
      }
      if (a.lse) a.lse[r] = (float)lse;
    }
  });
}

void fna_backward_f64(const NaProblem& p, const FusedBackwardArgs& a) {
  const Layout l(p);
  const size_t bytes = (size_t)(l.rows() * l.cols) * sizeof(double);
  HostBuffer P(bytes > 0 ? bytes : sizeof(double)), dS(bytes > 0 ? bytes : sizeof(double));
  double* pp = static_cast<double*>(P.data());
  double* ds = static_cast<double*>(dS.data());
  probs_and_dq(l, a, pp, ds);
  dk_dv(l, a, pp, ds);
  if (p.n_extra > 0) d_extra(l, a, pp, ds);
}

}  // namespace natten::cpu::NATTEN_SIMD
