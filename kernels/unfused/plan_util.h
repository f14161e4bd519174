// Host-side helpers of the unfused kernels' tile planners.
#pragma once
#include <stdint.h>

#include <cuda_runtime.h>

#include "../runtime/cuda_check.h"
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

/// Allows a kernel to use `bytes` of dynamic shared memory (above the 48 KiB default).
template <typename K>
void allow_smem(K kernel, int bytes) {
  if (bytes > 48 * 1024)
    NATTEN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
}

}  // namespace natten::unfused
