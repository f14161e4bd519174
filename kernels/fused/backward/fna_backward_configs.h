// Tile configurations of the fused NA backward (host side, no CUDA headers): which Q/KV tile shapes
// exist, which head-dim tier a problem uses, the default choice, and validation of a user's choice.
//
// The backward kernels take their tile shapes at run time (only the product is compiled in), so every
// listed shape costs no extra template instantiation:
//   - KV tile: 64 keys (4 warps x 16 key rows); it is also the Q tile of the Q-parallel dQ kernel;
//   - Q tile of the main kernel: 64 queries for head-dim tiers 32 and 64, 32 for tier 128 (keeps dK, dV,
//     S and dP of a warp in registers without spills).
#pragma once
#include <stdint.h>
#include <string>
#include <vector>
#include "../../common/problem.h"
#include "../../common/error.h"
#include "fna_backward_params.h"
#include "../../common/tile_window.h"

namespace natten::fused {

/// One backward tile configuration (axes past dims are 1).
struct BackwardTileConfig {
  int q[kMaxDims];
  int kv[kMaxDims];
};

/// Head-dim tier (padded head dim the kernels are compiled for) of a problem: 32, 64 or 128; 0 when the
/// fast path has none (head dims not multiples of 8, or above 128).
inline int backward_head_dim_tier(int64_t head_dim, int64_t head_dim_v) {
  const int64_t d = head_dim > head_dim_v ? head_dim : head_dim_v;
  if (head_dim % 8 != 0 || head_dim_v % 8 != 0 || d <= 0 || d > 128) return 0;
  return d <= 32 ? 32 : (d <= 64 ? 64 : 128);
}

/// Queries per Q tile of the main kernel for a head-dim tier.
inline int backward_q_rows(int tier) { return tier == 128 ? 32 : 64; }

namespace detail {
inline std::vector<std::vector<int>> backward_shapes(int dims, int rows) {
  if (dims == 1) return {{rows}};
  if (dims == 2) {
    if (rows == 64) return {{8, 8}, {4, 16}, {16, 4}};
    return {{8, 4}, {4, 8}, {16, 2}};
  }
  if (rows == 64) return {{4, 4, 4}, {2, 4, 8}, {2, 8, 4}, {1, 8, 8}};
  return {{2, 4, 4}, {4, 4, 2}, {1, 4, 8}, {2, 2, 8}};
}
inline void fill_shape(int (&out)[kMaxDims], const std::vector<int>& s) {
  for (int a = 0; a < kMaxDims; ++a) out[a] = a < (int)s.size() ? s[a] : 1;
}
}  // namespace detail

/// Every backward configuration for a problem of `dims` axes and head-dim tier `tier` (Q shapes x KV
/// shapes), in a stable order: the list fusedConfigs reports and the autotuner searches.
inline std::vector<BackwardTileConfig> backward_tile_configs(int dims, int tier) {
  std::vector<BackwardTileConfig> out;
  if (tier == 0) return out;
  for (const auto& qs : detail::backward_shapes(dims, backward_q_rows(tier)))
    for (const auto& ks : detail::backward_shapes(dims, kBwdKvRows)) {
      BackwardTileConfig c;
      detail::fill_shape(c.q, qs);
      detail::fill_shape(c.kv, ks);
      out.push_back(c);
    }
  return out;
}

/// (Q tile, KV tile) pairs the main kernel visits: per axis, the Q tiles of each KV tile's inverse
/// window, summed over tiles and dilation groups; the axes multiply (the walk is a box).
inline double backward_tile_pairs(const NaProblem& p, const BackwardTileConfig& c) {
  double pairs = 1;
  for (int a = 0; a < p.dims; ++a) {
    const AxisParams ap = p.axis(a);
    double sum = 0;
    for (int g = 0; g < ap.dilation; ++g) {
      const GroupAxis ax = group_axis(ap, g);
      for (int k0 = 0; k0 < ax.lg; k0 += c.kv[a]) {
        const Range r = tile_q_range(ax, k0, c.kv[a]);
        if (r.end > r.start) sum += ceil_div(r.end, c.q[a]) - r.start / c.q[a];
      }
    }
    pairs *= sum;
  }
  return pairs;
}

/// The default configuration: the one visiting the fewest tile pairs (weighted by Q rows per pair), the
/// first listed on ties.
inline BackwardTileConfig default_backward_tiles(const NaProblem& p, int tier) {
  const auto all = backward_tile_configs(p.dims, tier);
  BackwardTileConfig best = all.front();
  double best_cost = -1;
  for (const auto& c : all) {
    double rows = 1;
    for (int a = 0; a < p.dims; ++a) rows *= c.q[a];
    const double cost = backward_tile_pairs(p, c) * rows;
    if (best_cost < 0 || cost < best_cost) {
      best = c;
      best_cost = cost;
    }
  }
  return best;
}

inline std::string shape_string(const int (&s)[kMaxDims], int dims) {
  std::string out = "[";
  for (int a = 0; a < dims; ++a) out += (a ? ", " : "") + std::to_string(s[a]);
  return out + "]";
}

/// The configuration asked for by `q` / `kv` (all-zero = not given: the default fills it), or a
/// RangeError (ERR_NATTEN_UNSUPPORTED, as the forward's) naming the option and listing what exists. When only one of
/// the two is given, the other half is the default's if that pair exists, else the first listed that pairs.
inline BackwardTileConfig resolve_backward_tiles(const NaProblem& p, int tier, const int (&q)[kMaxDims],
                                                 const int (&kv)[kMaxDims]) {
  const bool q_given = q[0] || q[1] || q[2], kv_given = kv[0] || kv[1] || kv[2];
  const BackwardTileConfig dflt = default_backward_tiles(p, tier);
  if (!q_given && !kv_given) return dflt;
  const auto all = backward_tile_configs(p.dims, tier);
  auto same = [&](const int(&a)[kMaxDims], const int(&b)[kMaxDims]) {
    for (int i = 0; i < p.dims; ++i)
      if (a[i] != b[i]) return false;
    return true;
  };
  auto matches = [&](const BackwardTileConfig& c) {
    return (!q_given || same(c.q, q)) && (!kv_given || same(c.kv, kv));
  };
  for (const auto& c : all)
    if (matches(c) && (q_given || same(c.q, dflt.q)) && (kv_given || same(c.kv, dflt.kv))) return c;
  for (const auto& c : all)
    if (matches(c)) return c;
  bool q_exists = false;
  for (const auto& c : all) q_exists = q_exists || same(c.q, q);
  const bool bad_q = q_given && !q_exists;
  std::string options;
  for (const auto& c : all) {
    const std::string one = shape_string(bad_q ? c.q : c.kv, p.dims);
    if (options.find(one) == std::string::npos) options += (options.empty() ? "" : ", ") + one;
  }
  throw Error(ErrorKind::Range, "ERR_NATTEN_UNSUPPORTED",
              std::string(bad_q ? "backwardQTileShape " : "backwardKvTileShape ") +
                  shape_string(bad_q ? q : kv, p.dims) + " is not a fused backward configuration for " +
                  std::to_string(p.dims) + "-D problems with head dim " + std::to_string(p.head_dim) +
                  "; expected one of " + options);
}

}  // namespace natten::fused
