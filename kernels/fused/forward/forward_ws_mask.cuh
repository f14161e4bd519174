// Window masking of the 'wgmma-ws' forward, per consumer warpgroup (64 queries): a KV tile that every query
// of the half sees whole is "interior" and runs with no mask at all (by monotonicity of the windows,
// tile_window.h: start(last query) <= first key and end(first query) >= last key + 1 on every axis); any
// other tile ("edge") gets the element mask of window.h's windows, set to -inf.
//
// Accumulator ownership (wgmma m64nN, sm90_wgmma.h): this thread holds rows 16 warp + lane / 4 + {0, 8}
// and, per n8 block nb, key columns 8 nb + 2 (lane % 4) + {0, 1}: element s[4 nb + e] is row e / 2,
// column 8 nb + 2 (lane % 4) + e % 2. The lane's part of the column, 2 (lane % 4), and the compile-time
// part 8 nb + e % 2 have disjoint bits, so a raster coordinate (a bit field of the column) is the sum of
// the two parts: the lane's part is folded into per-row values once per tile, leaving a compile-time test
// per element.
#pragma once
#include <math_constants.h>
#include <stdint.h>

#include "forward_ws_plan.cuh"
#include "forward_ws_strip.h"
#include "forward_ws_walk.cuh"

namespace natten::fused {

template <class Tr>
struct WsMask {
  static constexpr int kDims = Tr::kDims;
  static constexpr int kBlocks = Tr::kKV / 8;  // n8 column blocks of S
  using KV = typename Tr::KV;
  using QHalf = typename Tr::QHalf;
  // Row tiles: 2-D boxes and 3-D plane tiles (extent 1 on axis 0) whose last axis is 8 keys or more. Raster
  // column j of such a tile is tile row j / X on axis kY and key j % X on axis kX; a thread's columns
  // 8 nb + 2 (lane % 4) + c (element bit 2 nb + c) fill kRowBits bits per tile row, with one pattern of
  // axis-kX keys in every tile row. The mask of a row is then a bit range (the row's axis-kY window) AND that
  // pattern repeated: one word per row and tile, one bit test per element (apply_bits).
  static constexpr int kX = kDims - 1, kY = kDims - 2;
  static constexpr bool kRowTiles =
      !Tr::kStrips && kDims >= 2 && (kDims == 2 || KV::ext(0) == 1) && KV::ext(kDims - 1) >= 8;
  static constexpr int kRowBits = kRowTiles ? KV::ext(kX) / 4 : 1;
  // Plane configs (3-D row tiles: one axis-0 plane per tile, Q halves of one plane): a half's queries share
  // their axis-0 window, and the walk skips the planes outside it, so a tile's mask depends only on its place
  // in its plane. Up to kPlanePositions places per plane, the words are computed once per work item.
  static constexpr bool kPlanes = kRowTiles && kDims == 3 && QHalf::ext(0) == 1;
  static constexpr int kPlanePositions = 4;
  int positions = 1;  // window tiles per plane (plane configs)
  uint32_t plane_bits[kPlanePositions][2] = {};
  static constexpr uint32_t kRowRepeat = [] {
    uint32_t r = 0;
    for (int i = 0; i < 32; i += kRowBits) r |= 1u << i;
    return r;
  }();

  Range first[3], last[3];  // windows of the half's first and last in-group query per axis
  Range row[2][3];          // windows of this thread's two rows
  bool has_rows = true;     // false when the whole half lies past the group's end (its rows are never stored)
  int lane_pair = 0;        // 2 (lane % 4)
  // Strip configs: the launch's strip shape and, with whole union rows (rows > 1: one tile per axis-1
  // walk), per row the bits of this thread's columns whose axis-1 key lies in the row's window.
  int strip[2] = {1, 1};
  uint32_t row_cols[2] = {0u, 0u};

  /// The windows of the half's rows from the item's plan (forward_ws_plan.cuh: the window of every Q tile
  /// coordinate per axis) and, for plane configs, the words of every place of a plane.
  __device__ __forceinline__ void init(const WsWalk<Tr>& w, const WsPlan<Tr>& plan, const int (&h0)[3], int warp,
                                       int lane) {
#pragma unroll
    for (int a = 0; a < kDims; ++a) {
      const int f = h0[a] - w.q0[a];  // the half's first coordinate in the Q tile
      const int l = min_int(h0[a] + QHalf::ext(a), w.ax[a].lg) - 1 - w.q0[a];
      if (l < f) has_rows = false;
      first[a] = plan.window(a, f);
      last[a] = plan.window(a, l < f ? f : l);
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int n = 16 * warp + (lane >> 2) + 8 * r;
#pragma unroll
      for (int a = 0; a < kDims; ++a) row[r][a] = plan.window(a, h0[a] - w.q0[a] + QHalf::coord(n, a));
    }
    lane_pair = 2 * (lane & 3);
    if constexpr (kPlanes) {
      positions = w.n_kv[1] * w.n_kv[2];
      if (positions <= kPlanePositions) {
        // Place i of a plane is tile (i / n_kv[2], i % n_kv[2]) of its axis-1 x axis-2 grid, counted along.
        int i1 = 0, i2 = 0;
#pragma unroll
        for (int i = 0; i < kPlanePositions; ++i) {
          const int ko[3] = {row[0][0].start, w.kv_lo[1] + i1 * KV::ext(1), w.kv_lo[2] + i2 * KV::ext(2)};
#pragma unroll
          for (int r = 0; r < 2; ++r) plane_bits[i][r] = row_tile_bits(r, ko);
          if (++i2 == w.n_kv[2]) i2 = 0, ++i1;
        }
      }
    }
    if constexpr (Tr::kStrips) {
      strip[0] = w.strip[0];
      strip[1] = w.strip[1];
      const int keys = strip[0] * strip[1];
#pragma unroll
      for (int i = 0; i < 2 * kBlocks; ++i) {
        const int j = 8 * (i >> 1) + (i & 1) + lane_pair;
        const int key1 = w.kv_lo[1] + j % strip[1];
#pragma unroll
        for (int r = 0; r < 2; ++r)
          if (j < keys && row[r][1].start <= key1 && key1 < row[r][1].end) row_cols[r] |= 1u << i;
      }
    }
  }

  /// Per row, the bits (column_range_bits order) of this thread's columns that the row's window keeps in
  /// the strip tile at group-local origin ko.
  __device__ __forceinline__ void strip_bits(const int (&ko)[3], uint32_t (&bits)[2]) const {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      if (strip[0] == 1) {  // one row segment: axis 0 all or nothing, axis 1 a column range
        const bool in0 = row[r][0].start <= ko[0] && ko[0] < row[r][0].end;
        bits[r] = in0 ? column_range_bits<kBlocks>(row[r][1].start - ko[1], row[r][1].end - ko[1], lane_pair) : 0u;
      } else {  // whole rows: axis 0 a range of rows = a column range, axis 1 fixed per row
        const int lo = max(0, min(strip[0], row[r][0].start - ko[0]));
        const int hi = max(0, min(strip[0], row[r][0].end - ko[0]));
        bits[r] = column_range_bits<kBlocks>(lo * strip[1], hi * strip[1], lane_pair) & row_cols[r];
      }
    }
  }

  /// Sets to -inf every score whose bit (strip_bits) is clear.
  __device__ __forceinline__ void apply_bits(float (&s)[kBlocks * 4], const uint32_t (&bits)[2]) const {
    const float kNegInf = -CUDART_INF_F;
#pragma unroll
    for (int r = 0; r < 2; ++r)
#pragma unroll
      for (int nb = 0; nb < kBlocks; ++nb)
#pragma unroll
        for (int c = 0; c < 2; ++c)
          if (!((bits[r] >> (2 * nb + c)) & 1u)) s[4 * nb + 2 * r + c] = kNegInf;
  }

  /// True when the window tile at group-local origin ko needs no mask for any query of the half.
  __device__ __forceinline__ bool interior(const int (&ko)[3]) const {
    bool in = has_rows;
#pragma unroll
    for (int a = 0; a < kDims; ++a) in = in && last[a].start <= ko[a] && first[a].end >= ko[a] + KV::ext(a);
    return in;
  }

  /// Keeps the columns c with lo[r] <= c < lo[r] + span[r] per row (a 1-D range of the tile's rows).
  __device__ __forceinline__ void keep_range(float (&s)[kBlocks * 4], const int (&lo)[2], const int (&span)[2]) const {
    const float kNegInf = -CUDART_INF_F;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int base = lane_pair - lo[r];
#pragma unroll
      for (int nb = 0; nb < kBlocks; ++nb)
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          float& x = s[4 * nb + 2 * r + c];
          if (static_cast<unsigned>(8 * nb + c + base) >= static_cast<unsigned>(span[r])) x = kNegInf;
        }
    }
  }

  /// Bits of element row r's keys in the row tile at group-local origin ko (kRowTiles; apply_bits order).
  __device__ __forceinline__ uint32_t row_tile_bits(int r, const int (&ko)[3]) const {
    const uint32_t rows =
        low_bits((row[r][kY].end - ko[kY]) * kRowBits) & ~low_bits((row[r][kY].start - ko[kY]) * kRowBits);
    const uint32_t keys =
        column_range_bits<kRowBits / 2>(row[r][kX].start - ko[kX], row[r][kX].end - ko[kX], lane_pair);
    uint32_t bits = rows & (keys * kRowRepeat);
    if constexpr (kDims == 3) bits = row[r][0].start <= ko[0] && ko[0] < row[r][0].end ? bits : 0u;
    return bits;
  }

  /// Mask of the plane config tile at place pos of its plane (positions <= kPlanePositions).
  __device__ __forceinline__ void apply_plane(float (&s)[kBlocks * 4], int pos) const {
    uint32_t bits[2] = {plane_bits[0][0], plane_bits[0][1]};
#pragma unroll
    for (int i = 1; i < kPlanePositions; ++i)
      if (pos == i) bits[0] = plane_bits[i][0], bits[1] = plane_bits[i][1];
    apply_bits(s, bits);
  }

  /// Element mask of the window tile at group-local origin ko.
  __device__ __forceinline__ void apply_window(float (&s)[kBlocks * 4], const int (&ko)[3]) const {
    if constexpr (kRowTiles) {
      const uint32_t bits[2] = {row_tile_bits(0, ko), row_tile_bits(1, ko)};
      apply_bits(s, bits);
    } else if constexpr (kDims == 1) {
      const int lo[2] = {row[0][0].start - ko[0], row[1][0].start - ko[0]};
      const int span[2] = {row[0][0].end - row[0][0].start, row[1][0].end - row[1][0].start};
      keep_range(s, lo, span);
    } else {
      static_assert(KV::ext(0) <= 16 && KV::ext(1) <= 16 && KV::ext(2) <= 16, "axis bitmaps of 16 bits");
      const float kNegInf = -CUDART_INF_F;
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        uint32_t bits[3] = {1u, 1u, 1u};  // bit c: coordinate c (minus the lane's part) inside the row's window
#pragma unroll
        for (int a = 0; a < kDims; ++a) {
          const int lo = max(0, min(KV::ext(a), row[r][a].start - ko[a]));
          const int hi = max(0, min(KV::ext(a), row[r][a].end - ko[a]));
          bits[a] = (((1u << hi) - 1u) & ~((1u << lo) - 1u)) >> KV::coord(lane_pair, a);
        }
#pragma unroll
        for (int nb = 0; nb < kBlocks; ++nb)
#pragma unroll
          for (int c = 0; c < 2; ++c) {
            uint32_t in = 1u;
#pragma unroll
            for (int a = 0; a < kDims; ++a) in &= bits[a] >> KV::coord(8 * nb + c, a);
            float& x = s[4 * nb + 2 * r + c];
            if (!(in & 1u)) x = kNegInf;
          }
      }
    }
  }

  /// Mask of an additional-key tile: columns at or past `left` (keys left from the tile's first) are
  /// outside the tensor.
  __device__ __forceinline__ void apply_extra(float (&s)[kBlocks * 4], int left) const {
    const int lo[2] = {0, 0}, span[2] = {left, left};
    keep_range(s, lo, span);
  }
};

}  // namespace natten::fused
