// KV strips of the 2-D 'wgmma-ws' forward (host and device).
//
// A strip config's KV tile is N keys (the wgmma N of S = Q K^T) laid out as whole rows of the CTA's window
// union: `rows` consecutive rows (axis 0) of `cols` keys (axis 1), rows x cols <= N, cols the widest axis-1
// key range any Q tile of the problem needs. One TMA box of (cols, rows) writes the tile in raster order,
// so key j of a tile is row j / cols, column j % cols. Against tiles on a fixed grid (8x8, 16x8) a tile then
// carries no axis-1 halo: a 2-D k13 Q 8x8 half computes 448 keys per query with N = 64 (3 rows of 20)
// against 576 on the 8x8 grid, and the two consumer halves skip the strips outside their rows.
//
// Where the union is wider than N (large windows), a strip is one row segment of N keys (rows = 1).
#pragma once
#include <stdint.h>

#include "../../common/hostdevice.h"
#include "../../common/problem.h"
#include "../../common/tile_window.h"

namespace natten::fused {

/// Per-launch shape of a strip config's KV tiles.
struct StripShape {
  int rows;  // axis-0 extent
  int cols;  // axis-1 extent
};

/// The widest key range along one axis that a Q tile of extent qn needs, over every dilation group and
/// every Q tile of the axis (what tile_kv_range gives each of them).
inline int max_union_extent(const AxisParams& axis, int qn) {
  int widest = 1;
  for (int g = 0; g < axis.dilation && g < axis.length; ++g) {
    const GroupAxis ax = group_axis(axis, g);
    for (int q0 = 0; q0 < ax.lg; q0 += qn) {
      const Range r = tile_kv_range(ax, q0, qn);
      widest = r.end - r.start > widest ? r.end - r.start : widest;
    }
  }
  return widest;
}

/// The strip shape of a 2-D problem for a CTA Q tile of q_ext0 x q_ext1 queries and N-key tiles: as many
/// whole union rows as fit in N (no more than a Q tile's union has), or one row segment of N keys.
inline StripShape ws_strip_shape(const NaProblem& p, int q_ext0, int q_ext1, int n_keys) {
  const int width = max_union_extent(p.axis(1), q_ext1);
  if (width > n_keys) return {1, n_keys};
  const int height = max_union_extent(p.axis(0), q_ext0);
  const int rows = n_keys / width;
  return {rows < height ? rows : height, width};
}

/// Bits 0..n-1 set (n clamped to 0..32).
NATTEN_HD uint32_t low_bits(int n) { return n <= 0 ? 0u : n >= 32 ? ~0u : (1u << n) - 1u; }

/// The columns of a wgmma m64nN accumulator row that one thread holds, as bits: bit i is column
/// 8 (i / 2) + i % 2 + lane_pair (lane_pair = 2 (lane % 4)), i < 2 Blocks. Columns grow with i, so the
/// columns below y are a prefix of the bits.
template <int Blocks>
NATTEN_HD int columns_below(int y, int lane_pair) {
  const int z = y - lane_pair;  // columns 8 nb + c below y: 8 nb + c < z
  if (z <= 0) return 0;
  const int even = (z + 7) >> 3, odd = (z + 6) >> 3;  // blocks with 8 nb < z, with 8 nb + 1 < z
  return (even < Blocks ? even : Blocks) + (odd < Blocks ? odd : Blocks);
}

/// Bits of the thread's columns j with lo <= j < hi.
template <int Blocks>
NATTEN_HD uint32_t column_range_bits(int lo, int hi, int lane_pair) {
  return low_bits(columns_below<Blocks>(hi, lane_pair)) & ~low_bits(columns_below<Blocks>(lo, lane_pair));
}

}  // namespace natten::fused
