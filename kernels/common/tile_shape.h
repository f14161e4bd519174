// Compile-time multi-dimensional tile shapes of the fused kernels and the order of tokens inside a tile.
//
// A tile (of queries or of keys) is an arrangement of "micro tiles" of 16 tokens, each a small box
// (1-D 16, 2-D 4x4, 3-D 2x2x4). One micro tile is what one mma.sync m16n8k16 handles along M (16 query
// rows: one warp) or along K of P.V (16 keys: one k-step), so a warp can test in one go whether a whole
// micro tile of keys is outside its queries' windows (skip it), wholly inside (no mask) or in between.
// Row n of a tile in shared memory: micro tile n / 16 (row-major over the tile's micro grid), then
// position n % 16 (row-major inside the micro box). Unused axes have extent 1.
#pragma once
#include <stdint.h>
#include "hostdevice.h"
#include "problem.h"

namespace natten::fused {

/// Tokens per micro tile: query rows per warp, keys per k-step of P.V.
constexpr int kMicroTokens = 16;

/// The micro box (kMicroTokens tokens) for a number of spatial dims.
/// Extent on axis a of the micro box for `dims` spatial dims.
NATTEN_HD constexpr int micro_extent(int dims, int a) {
  return dims == 1 ? (a == 0 ? 16 : 1) : dims == 2 ? (a < 2 ? 4 : 1) : (a < 2 ? 2 : 4);
}
static_assert(micro_extent(1, 0) == kMicroTokens && micro_extent(2, 0) * micro_extent(2, 1) == kMicroTokens &&
                  micro_extent(3, 0) * micro_extent(3, 1) * micro_extent(3, 2) == kMicroTokens,
              "a micro box holds kMicroTokens tokens");

NATTEN_HD constexpr bool is_pow2(int x) { return x > 0 && (x & (x - 1)) == 0; }
NATTEN_HD constexpr int log2_int(int x) { return x <= 1 ? 0 : 1 + log2_int(x / 2); }

/// A tile of X x Y x Z tokens (extent 1 on unused axes) made of MicroShape<Dims> boxes.
template <int Dims, int X, int Y, int Z>
struct TileShape {
  static constexpr int kDims = Dims;
  static constexpr int kSize = X * Y * Z;
  static constexpr int kMicroCount = kSize / kMicroTokens;
  // Functions rather than static arrays: device code may index them with a (unrolled) loop variable.
  /// Tile extent on axis a.
  static NATTEN_HD constexpr int ext(int a) { return a == 0 ? X : a == 1 ? Y : Z; }
  /// Micro-box extent on axis a.
  static NATTEN_HD constexpr int micro(int a) { return micro_extent(Dims, a); }
  /// Micro tiles per axis.
  static NATTEN_HD constexpr int grid(int a) { return ext(a) / micro(a); }

  static_assert(Dims >= 1 && Dims <= 3, "1 to 3 spatial dims");
  static_assert(is_pow2(X) && is_pow2(Y) && is_pow2(Z), "power-of-two tile extents");
  static_assert(X % micro(0) == 0 && Y % micro(1) == 0 && Z % micro(2) == 0, "tile = whole micro tiles");
  static_assert(Dims >= 3 || Z == 1, "unused axis extent must be 1");
  static_assert(Dims >= 2 || Y == 1, "unused axis extent must be 1");

  /// Coordinate on axis a (0..ext-1) of position i (0..15) inside a micro tile.
  static NATTEN_HD int micro_coord(int i, int a) {
    constexpr int l1 = log2_int(micro(1)), l2 = log2_int(micro(2));
    if (a == 0) return i >> (l1 + l2);
    if (a == 1) return (i >> l2) & (micro(1) - 1);
    return i & (micro(2) - 1);
  }
  /// Offset on axis a of micro tile m inside the tile.
  static NATTEN_HD int micro_origin(int m, int a) {
    constexpr int l1 = log2_int(grid(1)), l2 = log2_int(grid(2));
    if (a == 0) return (m >> (l1 + l2)) * micro(0);
    if (a == 1) return ((m >> l2) & (grid(1) - 1)) * micro(1);
    return (m & (grid(2) - 1)) * micro(2);
  }
  /// Bits [lo, hi) of an axis of `ext` positions (lo, hi clamped to [0, ext]; ext <= 16).
  static NATTEN_HD uint32_t axis_bits(int lo, int hi, int ext) {
    lo = lo < 0 ? 0 : (lo > ext ? ext : lo);
    hi = hi < 0 ? 0 : (hi > ext ? ext : hi);
    return (1u << hi) - (1u << lo);  // hi >= lo after clamping since windows are non-empty (start < end)
  }
  /// Moves bit i of b (i < count) to bit i * e, bits not overlapping (shift-or steps, no carries).
  static NATTEN_HD uint32_t spread(uint32_t b, int count, int e) {
    if (e == 1 || count == 1) return b;
    if (count == 2) return (b | (b << (e - 1))) & (1u | (1u << e));
    if (count == 4 && e == 4) {
      const uint32_t x = (b | (b << 6)) & 0x0303u;
      return (x | (x << 3)) & 0x1111u;
    }
    if (count == 4 && e == 2) {
      const uint32_t x = (b | (b << 2)) & 0x33u;
      return (x | (x << 1)) & 0x55u;
    }
    uint32_t out = 0;
    for (int i = 0; i < count; ++i) out |= ((b >> i) & 1u) << (i * e);
    return out;
  }
  /// Micro-tile mask from per-axis position bits: bit i set iff position i (row-major, axis 0 most
  /// significant) has its coordinate bit set on every axis. One row's window against one 16-key micro
  /// tile becomes a 16-bit mask: a few integer ops per (row, micro tile) instead of compares per element.
  static NATTEN_HD uint32_t combine_axis_bits(const uint32_t (&bits)[3]) {
    uint32_t mask = bits[0];
    int count = micro(0);
    for (int a = 1; a < 3; ++a) {
      if (micro(a) == 1) continue;
      mask = spread(mask, count, micro(a)) * bits[a];
      count *= micro(a);
    }
    return mask;
  }
  /// Mask of the micro-tile positions inside the box [lo[a], hi[a]) (relative to the micro tile origin).
  static NATTEN_HD uint32_t micro_box_mask(const int (&lo)[3], const int (&hi)[3]) {
    uint32_t bits[3];
    for (int a = 0; a < 3; ++a) bits[a] = micro(a) == 1 ? 1u : axis_bits(lo[a], hi[a], micro(a));
    return combine_axis_bits(bits);
  }
  /// Coordinate on axis a of tile row n.
  static NATTEN_HD int coord(int n, int a) { return micro_origin(n >> 4, a) + micro_coord(n & 15, a); }
};

/// XOR swizzle of a shared-memory tile of rows of `Chunks` 16-byte chunks (Chunks = head dim / 8): the
/// 16-byte unit index of (row, chunk). Eight consecutive rows at one logical chunk land in eight distinct
/// bank groups, so ldmatrix (normal or .trans) and the 16-byte cp.async writes are conflict-free.
template <int Chunks>
NATTEN_HD int swizzle(int row, int chunk) {
  static_assert(Chunks == 4 || Chunks % 8 == 0, "head-dim tiers 32, 64, 128, 256");
  if constexpr (Chunks >= 8) {
    return row * Chunks + (chunk ^ (row & 7));
  } else {
    return row * Chunks + (chunk ^ ((row >> 1) & 3));  // 64-byte rows: two rows share a 128-byte line
  }
}

/// The 128-byte-swizzle layout the sm_90 wgmma kernels read through descriptors (PTX "canonical layout,
/// 128B swizzle"; K-major for Q and K, and the same bytes are the MN-major layout of V): the head dim is
/// cut into 64-element column blocks of Rows x 128 bytes, and in a block row r's 16-byte chunk c sits at
/// chunk c ^ (r % 8). The hardware derives that XOR from address bits, so each block is 1024-byte aligned.
/// For one block (head-dim tier 64) this equals swizzle<8>.
template <int Chunks, int Rows>
NATTEN_HD int gmma_swizzle(int row, int chunk) {
  static_assert(Chunks % 8 == 0, "128-byte rows: head-dim tiers 64, 128, 256");
  return ((chunk >> 3) * Rows + row) * 8 + ((chunk & 7) ^ (row & 7));
}

/// Shared-memory layout of a tile as a type (the loaders are templated on it): `unit(row, chunk)` is the
/// 16-byte unit of (row, chunk). RowSwizzle: the sm_80 kernels' layout; GmmaSwizzle: the wgmma one.
template <int Chunks>
struct RowSwizzle {
  static NATTEN_HD int unit(int row, int chunk) { return swizzle<Chunks>(row, chunk); }
};
template <int Chunks, int Rows>
struct GmmaSwizzle {
  static NATTEN_HD int unit(int row, int chunk) { return gmma_swizzle<Chunks, Rows>(row, chunk); }
};

}  // namespace natten::fused
