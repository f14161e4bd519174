// How the unfused kernels cut a problem into CTAs, and what a CTA knows about its tile.
//
// A CTA owns a tile of neighbouring tokens of one (batch, head) and one dilation group: per axis a range
// of group-local positions [first, first + count) whose extent is a power of two (so a thread finds its
// tokens with shifts), plus an "inner" index (a window block or a channel chunk, per kernel). Dilation
// groups are folded into the grid, so inside a CTA every axis is dense (group-local coordinates) and the
// window math of window.h applies unchanged. The problem is always the three-axis view (cuda::as_3d).
#pragma once
#include <stdint.h>

#include "../runtime/axes3.cuh"

namespace natten::unfused {

/// Grid of a tiled kernel: [batch * heads][dilation groups (3 axes)][tiles (3 axes)][inner], row-major.
struct TileGrid {
  int tile_log2[3] = {0, 0, 0};  // tile extent per axis = 1 << tile_log2
  int tiles[3] = {1, 1, 1};      // tiles per axis, over the longest dilation group
  int inner = 1;                 // CTAs per tile (window blocks or channel chunks)
  int64_t ctas = 0;
};

/// One CTA's tile: group-local ranges per axis and the (batch * head) row.
struct CtaTile {
  int64_t bh;
  int inner;
  int group[3];
  int first[3];
  int count[3];  // tokens of the tile that exist (ragged at the end of a dilation group)
  bool empty;    // the tile lies past the end of a short dilation group
};

__device__ __forceinline__ CtaTile locate_cta(const NaProblem& p, const TileGrid& g, unsigned cta) {
  CtaTile t;
  int64_t id = cta;
  t.inner = (int)(id % g.inner);
  id /= g.inner;
  int tile[3];
#pragma unroll
  for (int a = 2; a >= 0; --a) {
    tile[a] = (int)(id % g.tiles[a]);
    id /= g.tiles[a];
  }
#pragma unroll
  for (int a = 2; a >= 0; --a) {
    t.group[a] = (int)(id % p.dilation[a]);
    id /= p.dilation[a];
  }
  t.bh = id;
  t.empty = false;
#pragma unroll
  for (int a = 0; a < 3; ++a) {
    const int len = group_length(p.length[a], p.dilation[a], t.group[a]);
    t.first[a] = tile[a] << g.tile_log2[a];
    const int rest = len - t.first[a];
    t.count[a] = rest < (1 << g.tile_log2[a]) ? rest : (1 << g.tile_log2[a]);
    t.empty |= t.count[a] <= 0;
  }
  return t;
}

/// v, hidden from the optimizer: values derived from it are recomputed instead of being kept live (used to
/// re-derive a CTA's geometry after a register-heavy loop rather than holding it in registers across it).
__device__ __forceinline__ unsigned opaque(unsigned v) {
#ifdef __CUDA_ARCH__
  asm volatile("" : "+r"(v));
#endif
  return v;
}

/// Token index of group-local coordinates l in dilation groups g.
__device__ __forceinline__ int64_t local_token(const NaProblem& p, const int g[3], int l0, int l1, int l2) {
  return cuda::token_of(p, l0 * p.dilation[0] + g[0], l1 * p.dilation[1] + g[1], l2 * p.dilation[2] + g[2]);
}

/// Group-local coordinates c of row q of a box of positions at origin `first` (rows row-major over the box,
/// whose extents on axes 1 and 2 are 2^l1 and 2^l2: a CTA's tile, or a block of the queries it walks); false
/// when the row lies past `count` on some axis.
__device__ __forceinline__ bool box_row(const int first[3], const int count[3], int l1, int l2, int q, int (&c)[3]) {
  const int i2 = q & ((1 << l2) - 1), i1 = (q >> l2) & ((1 << l1) - 1), i0 = q >> (l1 + l2);
  if (i0 >= count[0] || i1 >= count[1] || i2 >= count[2]) return false;
  c[0] = first[0] + i0;
  c[1] = first[1] + i1;
  c[2] = first[2] + i2;
  return true;
}

/// Element offset (token * `stride`) of row q of a box (box_row) in dilation groups g, or -1 past `count`.
__device__ __forceinline__ int64_t box_row_offset(const NaProblem& p, const int g[3], const int first[3],
                                                  const int count[3], int l1, int l2, int q, int64_t stride) {
  int c[3];
  if (!box_row(first, count, l1, l2, q, c)) return -1;
  return local_token(p, g, c[0], c[1], c[2]) * stride;
}

/// Calls f(q, token) for every row q of the CTA's tile (extents 2^l0 x 2^l1 x 2^l2) that exists, one row per
/// warp at a time: rows warp, warp + kWarps, ...
template <int kWarps, typename F>
__device__ __forceinline__ void for_tile_rows_by_warp(const NaProblem& p, const CtaTile& ct, int l0, int l1, int l2,
                                                      int warp, F&& f) {
  for (int q = warp; q < (1 << (l0 + l1 + l2)); q += kWarps) {
    int c[3];
    if (!box_row(ct.first, ct.count, l1, l2, q, c)) continue;
    f(q, local_token(p, ct.group, c[0], c[1], c[2]));
  }
}

/// A block of window positions: one position on the axes before `split_axis`, a range of `block`
/// positions on it, and every position after it. Such a block is a contiguous run of the row-major
/// window numbering, so a query's block of attention weights is one contiguous segment of its row.
struct WindowBlocks {
  int split_axis = 2;
  int block = 1;     // positions per block on the split axis
  int per_axis = 1;  // blocks on the split axis
  int count = 1;     // blocks in all = (positions of the axes before it) * per_axis
};

/// Nominal extent of a window block on axis a (the last block on the split axis may be shorter).
NATTEN_HD int block_extent(const NaProblem& p, const WindowBlocks& w, int a) {
  return a < w.split_axis ? 1 : (a == w.split_axis ? w.block : p.kernel[a]);
}

/// Kernel-position range [pb, pe) per axis of window block `index`.
NATTEN_HD void block_range(const NaProblem& p, const WindowBlocks& w, int index, int pb[3], int pe[3]) {
  const int on_split = index % w.per_axis;
  int outer = index / w.per_axis;
  for (int a = 2; a >= 0; --a) {
    if (a > w.split_axis) {
      pb[a] = 0;
      pe[a] = p.kernel[a];
    } else if (a == w.split_axis) {
      pb[a] = on_split * w.block;
      pe[a] = pb[a] + w.block < p.kernel[a] ? pb[a] + w.block : p.kernel[a];
    } else {
      pb[a] = outer % p.kernel[a];
      outer /= p.kernel[a];
      pe[a] = pb[a] + 1;
    }
  }
}

/// First flattened window position of a block (row-major over the kernel).
NATTEN_HD int64_t block_base(const NaProblem& p, const int pb[3]) {
  return ((int64_t)pb[0] * p.kernel[1] + pb[1]) * p.kernel[2] + pb[2];
}

}  // namespace natten::unfused
