// Host-side helpers of the unfused kernels' tile planners.
#pragma once
#include <stdint.h>

#include <cuda_runtime.h>

#include "../common/error.h"
#include "tile_grid.cuh"
#include "unfused.h"

namespace natten::unfused {

inline int ceil_log2(int64_t x) {
  int l = 0;
  while ((int64_t(1) << l) < x) ++l;
  return l;
}

NATTEN_HD int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Positions in the longest dilation group of axis a.
inline int longest_group(const NaProblem& p, int a) { return (int)ceil_div(p.length[a], p.dilation[a]); }

/// Most union positions a tile of `tile` consecutive queries can need on axis a for `block` window
/// positions: window starts move by at most (tile - 1) + (stride - 1) across the tile.
inline int union_bound(const NaProblem& p, int a, int tile, int block) {
  const int u = tile + p.stride[a] - 2 + block;
  const int g = longest_group(p, a);
  return u < g ? u : g;
}

/// Fills grid.tiles and grid.ctas for tile extents grid.tile_log2 and grid.inner.
inline void finish_grid(const NaProblem& p, TileGrid& grid) {
  int64_t ctas = p.batch * p.heads * grid.inner;
  for (int a = 0; a < 3; ++a) {
    grid.tiles[a] = (int)ceil_div(longest_group(p, a), int64_t(1) << grid.tile_log2[a]);
    ctas *= (int64_t)grid.tiles[a] * p.dilation[a];
  }
  grid.ctas = ctas;
}

/// Calls f(l0, l1, l2) for every split of `total_log2` over three axes with l2 >= min_last, skipping
/// shapes much larger than the problem on an axis (a tile may exceed an axis only by rounding up).
template <typename F>
void for_each_tile_shape(const NaProblem& p, int total_log2, int min_last, F&& f) {
  const int cap[3] = {ceil_log2(longest_group(p, 0)), ceil_log2(longest_group(p, 1)), ceil_log2(longest_group(p, 2))};
  bool any = false;
  for (int l2 = min_last; l2 <= total_log2; ++l2)
    for (int l1 = 0; l1 + l2 <= total_log2; ++l1) {
      const int l0 = total_log2 - l1 - l2;
      if ((l2 > min_last && l2 > cap[2]) || l1 > cap[1] || l0 > cap[0]) continue;
      any = true;
      f(l0, l1, l2);
    }
  if (!any) {
    // Problem smaller than a CTA's tile on every axis: put the surplus on the last axis (idle threads).
    int l2 = total_log2 - cap[0] - cap[1];
    if (l2 < min_last) l2 = min_last;
    const int rest = total_log2 - l2;
    const int l1 = cap[1] < rest ? cap[1] : rest;
    f(rest - l1, l1, l2);
  }
}

/// Shared-memory budget per CTA that lets two CTAs share an SM (at least the 48 KiB everyone has).
inline int two_ctas_per_sm(const DeviceLimits& dev) {
  const int half = dev.smem_optin / 2 - 1024;
  return half > 48 * 1024 ? half : 48 * 1024;
}

/// Nominal extent ext[a] of the window blocks wb and the most key-union positions u[a] a tile of 2^tile_log2[a]
/// queries needs for them, per axis.
inline void block_extents(const NaProblem& p, const WindowBlocks& wb, const int tile_log2[3], int ext[3], int u[3]) {
  for (int a = 0; a < 3; ++a) {
    ext[a] = block_extent(p, wb, a);
    u[a] = union_bound(p, a, 1 << tile_log2[a], ext[a]);
  }
}

/// Calls fits(wb) for the ways of cutting the window into blocks: for each split axis (one whose kernel is not
/// 1, or the last), the block sizes from the whole axis down, until fits returns true (the largest block,
/// fewest blocks, that fits).
template <typename F>
void for_each_window_blocking(const NaProblem& p, F&& fits) {
  for (int split = 0; split < 3; ++split) {
    if (split < 2 && p.kernel[split] == 1) continue;
    int outer = 1;
    for (int a = 0; a < split; ++a) outer *= p.kernel[a];
    for (int per_axis = 1; per_axis <= p.kernel[split]; ++per_axis) {
      const int block = (int)ceil_div(p.kernel[split], per_axis);
      if (ceil_div(p.kernel[split], block) != per_axis) continue;
      if (fits(WindowBlocks{split, block, per_axis, outer * per_axis})) break;
    }
  }
}

/// Keeps the cheapest of the plans offered in `best`.
template <typename Plan>
struct CheapestPlan {
  Plan& best;
  double cost = 0;
  bool found = false;
  void offer(const Plan& plan, double c) {
    if (!found || c < cost) {
      best = plan;
      cost = c;
      found = true;
    }
  }
};

/// within(limit, plan) finds a plan within `limit` bytes of shared memory: the plan within `smem_target` (two
/// CTAs per SM) if there is one, else within the whole opt-in limit; else a RangeError ERR_NATTEN_UNSUPPORTED
/// saying `none_fits`.
template <typename Plan, typename Within>
Plan choose_within_smem(int smem_optin, int smem_target, const char* none_fits, Within&& within) {
  Plan plan;
  if (within(smem_target, plan) || within(smem_optin, plan)) return plan;
  throw Error(ErrorKind::Range, "ERR_NATTEN_UNSUPPORTED", none_fits);
}

}  // namespace natten::unfused
