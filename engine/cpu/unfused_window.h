// Window enumeration for the unfused ops (layout [B, H, ...spatial, C]): the prod(kernel) window positions
// of a query in row-major kernel order, and the queries that see a key, from kernels/common/window.h.
#pragma once
#include <stdint.h>

#include "../../kernels/common/problem.h"
#include "../../kernels/common/window.h"

namespace natten::cpu::NATTEN_SIMD {

/// Per-axis windows of one token.
struct TokenWindow {
  int coord[kMaxDims];
  Range w[kMaxDims];  // group-local [start, end) per axis
};

inline void unravel(const NaProblem& p, int64_t tok, int* coord) {
  for (int a = p.dims - 1; a >= 0; --a) {
    coord[a] = (int)(tok % p.length[a]);
    tok /= p.length[a];
  }
}

inline TokenWindow token_window(const NaProblem& p, int64_t tok) {
  TokenWindow t;
  unravel(p, tok, t.coord);
  for (int a = 0; a < p.dims; ++a) t.w[a] = axis_window(p.axis(a), t.coord[a]);
  return t;
}

/// Calls fn(position w, key token or -1 when masked, rpb offset within the head's rpb block) for every
/// window position of a query, in row-major kernel order.
template <class Fn>
void for_each_position(const NaProblem& p, const TokenWindow& tw, Fn fn) {
  int pos[kMaxDims] = {0, 0, 0};
  const int64_t W = p.window_size();
  for (int64_t w = 0; w < W; ++w) {
    bool valid = true;
    int64_t key = 0, rpb = 0;
    for (int a = 0; a < p.dims; ++a) {
      const int jl = tw.w[a].start + pos[a];
      if (jl >= tw.w[a].end) valid = false;
      const int g = tw.coord[a] % p.dilation[a];
      key = key * p.length[a] + (int64_t)jl * p.dilation[a] + g;
      rpb = rpb * (2 * p.kernel[a] - 1) + rpb_index(p.axis(a), tw.coord[a], jl * p.dilation[a] + g);
    }
    fn(w, valid ? key : -1, rpb);
    for (int a = p.dims - 1; a >= 0; --a) {
      if (++pos[a] < p.kernel[a]) break;
      pos[a] = 0;
    }
  }
}

/// Calls fn(query token, window position of the key in that query's window) for every query that sees key
/// token `key`.
template <class Fn>
void for_each_query_of(const NaProblem& p, int64_t key, Fn fn) {
  int kc[kMaxDims];
  unravel(p, key, kc);
  Range inv[kMaxDims];
  for (int a = 0; a < p.dims; ++a) {
    inv[a] = axis_inverse_window(p.axis(a), kc[a]);
    if (inv[a].end <= inv[a].start) return;
  }
  int il[kMaxDims];
  for (int a = 0; a < p.dims; ++a) il[a] = inv[a].start;
  for (;;) {
    int64_t q = 0, w = 0;
    for (int a = 0; a < p.dims; ++a) {
      const int g = kc[a] % p.dilation[a];
      const int qi = il[a] * p.dilation[a] + g;
      const Range r = axis_window(p.axis(a), qi);
      q = q * p.length[a] + qi;
      w = w * p.kernel[a] + (kc[a] / p.dilation[a] - r.start);
    }
    fn(q, w);
    int a = p.dims - 1;
    for (; a >= 0; --a) {
      if (++il[a] < inv[a].end) break;
      il[a] = inv[a].start;
    }
    if (a < 0) return;
  }
}

}  // namespace natten::cpu::NATTEN_SIMD
