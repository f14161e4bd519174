// Moving data between the fused layout [B, ...spatial, H, C] (any dtype) and the engine's fp32 working
// layouts: packed rows [row][C][W] (transposed, dilation groups contiguous, zero-padded columns) for the
// side a pass walks over, and [C][16] tiles for the 16 lanes of a vector.
#pragma once
#include <stdint.h>

#include "../../kernels/common/dtype.h"
#include "na_geometry.h"
#include "vec.h"

namespace natten::cpu::NATTEN_SIMD {

/// A tensor in the fused layout: element (b, token, h, c) at ((b * N + token) * H + h) * C + c.
struct FusedView {
  const void* data = nullptr;
  DType type = DType::Float32;
  int64_t N = 0, H = 0, C = 0;
  size_t index(int64_t b, int64_t token, int64_t h, int64_t c) const {
    return (size_t)(((b * N + token) * H + h) * C + c);
  }
};

/// Token index (flat over the spatial axes, original order) of packed row `row`, innermost coordinate x.
inline int64_t token_of(const RowGeom& rg, int Lx, int row, int x) { return rg.unpacked(row) * Lx + x; }

/// Packs (b, h, packed row `row`) of src into dst[C][W] (column kPad + packed x), times scale. The
/// padding after the last line is the next row's (or the buffer's trailing vector: see pack_heads).
void pack_row(const FusedView& src, int64_t b, int64_t h, const RowGeom& rg, const AxisGeom& xg, int row, int64_t W,
              float scale, float* dst);

/// Loads the tile's lanes of (b, h, row) into dst[C][16] times scale; padding lanes are 0.
void load_tile(const FusedView& src, int64_t b, int64_t h, const RowGeom& rg, int Lx, int row, const LaneTile& t,
               float scale, float* dst);

/// Stores src[C][16] times the per-lane factor `mul` into (b, h, row) of dst for the valid lanes.
void store_tile(void* dst, const FusedView& layout, int64_t b, int64_t h, const RowGeom& rg, int Lx, int row,
                const LaneTile& t, const float* src, vf mul);

}  // namespace natten::cpu::NATTEN_SIMD
