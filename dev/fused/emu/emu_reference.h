// What the emulated kernel checks (emu_check.cc: backward, emu_fwd_check.cc: forward) share: random fp16/bf16
// tensors, the fp64 forward they compare against (over dev/fused/window_keys.h's windows), and a scaled error.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>
#include "../../common/dtype.h"
#include "../../common/problem.h"
#include "../../common/window.h"
#include "window_keys.h"

namespace natten::emu_ref {

/// A tensor as the kernel reads it (h, fp16/bf16 bits) and as the reference reads it (x, the same values).
struct Buf {
  std::vector<double> x;
  std::vector<uint16_t> h;
};

inline Buf rnd(size_t n, bool bf16, std::mt19937_64& rng, double scale) {
  std::normal_distribution<double> nd(0, 1);
  Buf b;
  for (size_t i = 0; i < n; ++i) {
    uint16_t v;
    store_element(&v, bf16 ? DType::BFloat16 : DType::Float16, 0, nd(rng) * scale);
    b.h.push_back(v);
    b.x.push_back(load_element(&v, bf16 ? DType::BFloat16 : DType::Float16, 0));
  }
  return b;
}

/// max |g - ref| / max(|ref|, 1e-3); infinite where g holds a non-finite value.
inline double scaled_err(const std::vector<uint16_t>& g, const std::vector<double>& ref, bool bf16) {
  double num = 0, den = 1e-3;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double x = load_element(&g[i], bf16 ? DType::BFloat16 : DType::Float16, 0);
    if (!std::isfinite(x)) return INFINITY;
    num = std::max(num, std::fabs(x - ref[i]));
    den = std::max(den, std::fabs(ref[i]));
  }
  return num / den;
}

/// The fp64 forward over layout [B, tokens, heads, dim] (extra keys [B, E, Hk, dim]): o [B, N, H, Dv] and the
/// log-sum-exp lse [B, N, H] of the scaled scores. `win` holds every token's window keys.
inline void reference_forward(const NaProblem& p, const std::vector<std::vector<int64_t>>& win, const Buf& q,
                              const Buf& k, const Buf& v, const Buf& ek, const Buf& ev, std::vector<double>& o,
                              std::vector<double>& lse) {
  const int64_t N = p.tokens(), B = p.batch, H = p.heads, Hk = p.heads_kv, D = p.head_dim, Dv = p.head_dim_v,
                E = p.n_extra;
  o.assign(B * N * H * Dv, 0);
  lse.assign(B * N * H, 0);
  std::vector<std::pair<const double*, const double*>> rows;
  std::vector<double> s;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < N; ++i)
      for (int64_t h = 0; h < H; ++h) {
        const int64_t row = (b * N + i) * H + h, hk = p.kv_head(h);
        rows.clear();
        for (int64_t j : win[i]) rows.push_back({&k.x[((b * N + j) * Hk + hk) * D], &v.x[((b * N + j) * Hk + hk) * Dv]});
        for (int64_t e = 0; e < E; ++e)
          rows.push_back({&ek.x[((b * E + e) * Hk + hk) * D], &ev.x[((b * E + e) * Hk + hk) * Dv]});
        s.clear();
        double m = -INFINITY;
        for (auto& kv : rows) {
          double d = 0;
          for (int x = 0; x < D; ++x) d += q.x[row * D + x] * kv.first[x];
          s.push_back(d * p.scale);
          m = std::max(m, s.back());
        }
        double l = 0;
        for (double x : s) l += std::exp(x - m);
        lse[row] = m + std::log(l);
        for (size_t j = 0; j < rows.size(); ++j) {
          const double pj = std::exp(s[j] - lse[row]);
          for (int x = 0; x < Dv; ++x) o[row * Dv + x] += pj * rows[j].second[x];
        }
      }
}

/// Draws the window axes of a random problem (p.dims set): window size, dilation and length (1-D at most
/// max_len_1d), then stride and causality. Wide: windows wider than a query tile plus a key tile (1-D k 130-257,
/// 2-D 16-21, 3-D 8-10, no dilation), so tiles lying inside every window of the other side's tile occur and the
/// kernels' unmasked path runs.
inline void draw_window_axes(NaProblem& p, std::mt19937_64& rng, bool wide, int max_len_1d) {
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const int maxlen[4] = {0, wide ? 400 : max_len_1d, wide ? 26 : 20, wide ? 12 : 9};
  const int kmin[4] = {0, 130, 16, 8}, kmax[4] = {0, 257, 21, 10};
  for (int a = 0; a < p.dims; ++a) {
    const int k = wide ? uni(kmin[p.dims], kmax[p.dims]) : uni(2, p.dims == 1 ? 40 : (p.dims == 2 ? 9 : 5));
    const int d = !wide && uni(0, 3) == 0 ? uni(2, 3) : 1;
    p.length[a] = std::max(k * d, uni(k * d, std::max(k * d, maxlen[p.dims])));
    p.kernel[a] = k;
    p.dilation[a] = d;
    p.stride[a] = uni(0, 2) == 0 ? uni(1, k) : 1;
    p.causal[a] = uni(0, 3) == 0;
  }
}

}  // namespace natten::emu_ref
