// Tile walk of the 'wgmma-ws' forward: where a CTA's Q tile is (dilation group and group-local origin per
// axis, from blockIdx.x as in every fused kernel), which KV tiles it visits (the box [start(first query),
// end(last query)) per axis from tile_window.h, cut into KV tiles walked row-major, then the additional
// keys in |KV|-key tiles) and where KV tile t starts. Producer and consumers each hold one and agree on it.
// A strip config's window tiles are rows x cols of the launch's strip shape (forward_ws_strip.h) instead of
// the fixed KV box.
#pragma once
#include <stdint.h>

#include "../../common/problem.h"
#include "../../common/tile_window.h"

namespace natten::fused {

template <class Tr>
struct WsWalk {
  static constexpr int kDims = Tr::kDims;
  GroupAxis ax[3];
  int q0[3] = {0, 0, 0};  // group-local origin of the CTA's Q tile
  int kv_lo[3] = {0, 0, 0};
  int kv_hi[3] = {1, 1, 1};
  int n_kv[3] = {1, 1, 1};
  int n_window_tiles = 1;
  int n_tiles = 1;
  int n_extra = 0;
  int strip[2] = {1, 1};  // strip configs: the launch's strip shape

  /// Extent on axis a of a window tile.
  __device__ __forceinline__ int kv_ext(int a) const {
    if constexpr (Tr::kStrips) return a < 2 ? strip[a] : 1;
    else return Tr::KV::ext(a);
  }
  /// Keys of a window tile.
  __device__ __forceinline__ int window_tile_keys() const {
    if constexpr (Tr::kStrips) return strip[0] * strip[1];
    else return Tr::kKV;
  }

  /// Locates CTA `slot` (blockIdx.x) of problem p; false for an empty slot of a short dilation group (the
  /// whole CTA then has nothing to do). strip_shape: the launch's strip shape (strip configs).
  __device__ __forceinline__ bool init(const NaProblem& p, uint32_t slot, const int (&strip_shape)[2]) {
    strip[0] = strip_shape[0];
    strip[1] = strip_shape[1];
    int64_t linear = slot;
#pragma unroll
    for (int a = kDims - 1; a >= 0; --a) {
      const int t = Tr::q_ext(a);
      const int n = axis_slots(p.length[a], p.dilation[a], t);
      const AxisSlot s = decode_slot(static_cast<int>(linear % n), p.length[a], p.dilation[a], t);
      linear /= n;
      ax[a] = group_axis(p.axis(a), s.group);
      q0[a] = s.origin;
    }
    n_window_tiles = 1;
#pragma unroll
    for (int a = 0; a < kDims; ++a) {
      if (q0[a] >= ax[a].lg) return false;
      const Range r = tile_kv_range(ax[a], q0[a], Tr::q_ext(a));
      kv_lo[a] = r.start;
      kv_hi[a] = r.end;
      n_kv[a] = ceil_div(r.end - r.start, kv_ext(a));
      n_window_tiles *= n_kv[a];
    }
    n_extra = static_cast<int>(p.n_extra);
    n_tiles = n_window_tiles + ceil_div(n_extra, Tr::kKV);
    return true;
  }

  /// Group-local origin per axis of window tile t (< n_window_tiles), last axis fastest.
  __device__ __forceinline__ void origin(int t, int (&ko)[3]) const {
#pragma unroll
    for (int a = kDims - 1; a >= 0; --a) {
      const int c = kDims == 1 ? t : t % n_kv[a];
      t = kDims == 1 ? 0 : t / n_kv[a];
      ko[a] = kv_lo[a] + c * kv_ext(a);
    }
#pragma unroll
    for (int a = kDims; a < 3; ++a) ko[a] = 0;
  }
  /// Moves a window tile's origin ko (origin(t)) to tile t + 1's: a step along the last axis that carries
  /// into the axes before it, in place of origin's divisions per tile.
  __device__ __forceinline__ void advance(int (&ko)[3]) const {
    ko[kDims - 1] += kv_ext(kDims - 1);
#pragma unroll
    for (int a = kDims - 1; a > 0; --a) {
      if (ko[a] >= kv_lo[a] + n_kv[a] * kv_ext(a)) {
        ko[a] = kv_lo[a];
        ko[a - 1] += kv_ext(a - 1);
      }
    }
  }
  /// First additional key of tile t (>= n_window_tiles).
  __device__ __forceinline__ int extra_first(int t) const { return (t - n_window_tiles) * Tr::kKV; }
  /// Group-local origin per axis of Q half `w` (0 or 1): the tile is split along axis 0.
  __device__ __forceinline__ void half_origin(int w, int (&h)[3]) const {
#pragma unroll
    for (int a = 0; a < 3; ++a) h[a] = q0[a];
    h[0] += w * Tr::QHalf::ext(0);
  }
};

}  // namespace natten::fused
