// Tile configurations of the fused NA backward (host side, no CUDA headers): which Q/KV tile shapes
// exist per head-dim tier and how many tile pairs one visits (the backward's cost model). The family's
// registry over them is BackwardConfigs (fna_backward.h, the shape of kernels/runtime/family_configs.h).
//
// The backward kernels take their tile shapes at run time (only the product is compiled in), so every
// listed shape costs no extra template instantiation:
//   - KV tile: 64 keys (4 warps x 16 key rows); it is also the Q tile of the Q-parallel dQ kernel;
//   - Q tile of the main kernel: 64 queries for head-dim tiers 32 and 64, 32 for tier 128 (keeps dK, dV,
//     S and dP of a warp in registers without spills).
#pragma once
#include <stdint.h>
#include <vector>
#include "../../common/problem.h"
#include "../../common/tile_window.h"
#include "../../runtime/family_configs.h"
#include "fna_backward_params.h"

namespace natten::fused {

/// One backward tile configuration (axes past dims are 1).
struct BackwardTileConfig {
  int q[kMaxDims];
  int kv[kMaxDims];
};

/// The arch number of the sm_90a wgmma backward family (backwardKernel 'wgmma').
constexpr int kBwdWgmmaArch = 90;

/// The largest head-dim tier of the backward kernels (head_dim_tier(D, Dv, kBackwardMaxHeadDimTier)).
constexpr int kBackwardMaxHeadDimTier = 128;

/// One backward configuration as the registry lists it: ConfigEntry (dims, Q tile of the main kernel, KV
/// tile, head-dim tier, arch 80 (mma.sync) or 90 (wgmma, kBwdWgmmaArch), dtype, threads and shared memory of
/// the main kernel).
struct BackwardEntry : ConfigEntry {};

/// The tile shapes of a backward entry, as the plan and the kernels take them.
inline BackwardTileConfig backward_tiles(const BackwardEntry& e) {
  BackwardTileConfig c;
  for (int a = 0; a < kMaxDims; ++a) c.q[a] = e.q_tile[a], c.kv[a] = e.kv_tile[a];
  return c;
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

/// Every backward tile configuration for a problem of `dims` axes and head-dim tier `tier` (Q shapes x KV
/// shapes), in a stable order: the order of BackwardConfigs' entries (fusedConfigs, the autotuner).
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

/// The wgmma family's tile configurations (sm_90a, head-dim tiers 64 and 128; none at 32): Q tiles of 64
/// queries (the shapes above) x KV tiles of 128 keys, each a 64-key shape above doubled on axis 0 (the
/// consumer warpgroups split it back into two halves there).
inline std::vector<BackwardTileConfig> backward_wgmma_tile_configs(int dims, int tier) {
  std::vector<BackwardTileConfig> out;
  if (tier != 64 && tier != 128) return out;
  for (const auto& qs : detail::backward_shapes(dims, 64))
    for (auto ks : detail::backward_shapes(dims, 64)) {
      ks[0] *= 2;
      BackwardTileConfig c;
      detail::fill_shape(c.q, qs);
      detail::fill_shape(c.kv, ks);
      out.push_back(c);
    }
  return out;
}

/// (Q tile, KV tile) pairs the main kernel visits with tiles q, kv: per axis, the Q tiles of each KV
/// tile's inverse window, summed over tiles and dilation groups; the axes multiply (the walk is a box).
inline double backward_tile_pairs(const NaProblem& p, const int (&q)[kMaxDims], const int (&kv)[kMaxDims]) {
  double pairs = 1;
  for (int a = 0; a < p.dims; ++a) {
    const AxisParams ap = p.axis(a);
    double sum = 0;
    for (int g = 0; g < ap.dilation; ++g) {
      const GroupAxis ax = group_axis(ap, g);
      for (int k0 = 0; k0 < ax.lg; k0 += kv[a]) {
        const Range r = tile_q_range(ax, k0, kv[a]);
        if (r.end > r.start) sum += ceil_div(r.end, q[a]) - r.start / q[a];
      }
    }
    pairs *= sum;
  }
  return pairs;
}

}  // namespace natten::fused
