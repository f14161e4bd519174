#include "na_pack.h"

#include "elem_io.h"
#include "na_block.h"

namespace natten::cpu::NATTEN_SIMD {

void pack_row(const FusedView& src, int64_t b, int64_t h, const RowGeom& rg, const AxisGeom& xg, int row, int64_t W,
              float scale, float* dst) {
  const int Lx = xg.a.length;
  const int64_t C = src.C;
  // The left padding of every line (kPad == 16: one vector); it is also the right padding of the line
  // before. Columns past Lx up to the next whole vector are zeroed by the last column block.
  for (int64_t c = 0; c < C; ++c) vstore(dst + c * W, vzero());
  const int64_t tok0 = rg.unpacked(row) * Lx;
  // 16 packed columns x 16 channels at a time: load 16 token rows, transpose, store 16 column vectors.
  // A short last column block writes zeros into the right padding (rows beyond Lx are zero).
  vf blk[kLanes];
  size_t at[kLanes];
  for (int p0 = 0; p0 < Lx; p0 += kLanes) {
    const int np = Lx - p0 < kLanes ? Lx - p0 : kLanes;
    for (int l = 0; l < np; ++l) at[l] = src.index(b, tok0 + xg.unpack(p0 + l), h, 0);
    for (int64_t c0 = 0; c0 < C; c0 += kLanes) {
      const int nc = C - c0 < kLanes ? (int)(C - c0) : kLanes;
      for (int l = 0; l < kLanes; ++l) blk[l] = l < np ? load16(src.data, src.type, at[l] + c0, nc, scale) : vzero();
      transpose16(blk);
      for (int j = 0; j < nc; ++j) vstoreu(dst + (c0 + j) * W + kPad + p0, blk[j]);
    }
  }
}

void load_tile(const FusedView& src, int64_t b, int64_t h, const RowGeom& rg, int Lx, int row, const LaneTile& t,
               float scale, float* dst) {
  const int64_t C = src.C;
  const int64_t tok0 = rg.unpacked(row) * Lx;
  vf blk[kLanes];
  size_t at[kLanes];
  for (int l = 0; l < t.lanes; ++l) at[l] = src.index(b, tok0 + t.x[l], h, 0);
  for (int64_t c0 = 0; c0 < C; c0 += kLanes) {
    const int nc = C - c0 < kLanes ? (int)(C - c0) : kLanes;
    for (int l = 0; l < kLanes; ++l) blk[l] = l < t.lanes ? load16(src.data, src.type, at[l] + c0, nc, scale) : vzero();
    transpose16(blk);
    for (int j = 0; j < nc; ++j) vstore(dst + (c0 + j) * kLanes, blk[j]);
  }
}

void store_tile(void* dst, const FusedView& layout, int64_t b, int64_t h, const RowGeom& rg, int Lx, int row,
                const LaneTile& t, const float* src, vf mul) {
  const int64_t C = layout.C;
  const int64_t tok0 = rg.unpacked(row) * Lx;
  vf blk[kLanes];
  for (int64_t c0 = 0; c0 < C; c0 += kLanes) {
    const int nc = C - c0 < kLanes ? (int)(C - c0) : kLanes;
    for (int j = 0; j < kLanes; ++j) blk[j] = j < nc ? vload(src + (c0 + j) * kLanes) * mul : vzero();
    transpose16(blk);
    for (int l = 0; l < t.lanes; ++l) store16(dst, layout.type, layout.index(b, tok0 + t.x[l], h, c0), blk[l], nc);
  }
}

}  // namespace natten::cpu::NATTEN_SIMD
