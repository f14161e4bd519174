#include "na_pack.h"

#include <string.h>

#include "elem_io.h"
#include "na_block.h"

namespace natten::cpu {

void pack_row(const FusedView& src, int64_t b, int64_t h, const RowGeom& rg, const AxisGeom& xg, int row,
              int64_t W, float scale, float* dst) {
  const int Lx = xg.a.length;
  const int64_t C = src.C;
  for (int64_t c = 0; c < C; ++c) {
    float* d = dst + c * W;
    memset(d, 0, kPad * sizeof(float));
    memset(d + kPad + Lx, 0, (size_t)(W - kPad - Lx) * sizeof(float));
  }
  const int64_t tok0 = rg.unpacked(row) * Lx;
  float buf[256];
  for (int p = 0; p < Lx; ++p) {
    const int x = xg.unpack(p);
    const size_t at = src.index(b, tok0 + x, h, 0);
    for (int64_t c0 = 0; c0 < C; c0 += 256) {
      const int64_t n = C - c0 < 256 ? C - c0 : 256;
      load_row(src.data, src.type, at + c0, n, buf, scale);
      for (int64_t c = 0; c < n; ++c) dst[(c0 + c) * W + kPad + p] = buf[c];
    }
  }
}

void load_tile(const FusedView& src, int64_t b, int64_t h, const RowGeom& rg, int Lx, int row, const LaneTile& t,
               float scale, float* dst) {
  const int64_t C = src.C;
  memset(dst, 0, (size_t)C * kLanes * sizeof(float));
  const int64_t tok0 = rg.unpacked(row) * Lx;
  float buf[256];
  for (int l = 0; l < t.lanes; ++l) {
    const size_t at = src.index(b, tok0 + t.x[l], h, 0);
    for (int64_t c0 = 0; c0 < C; c0 += 256) {
      const int64_t n = C - c0 < 256 ? C - c0 : 256;
      load_row(src.data, src.type, at + c0, n, buf, scale);
      for (int64_t c = 0; c < n; ++c) dst[(c0 + c) * kLanes + l] = buf[c];
    }
  }
}

void store_tile(void* dst, const FusedView& layout, int64_t b, int64_t h, const RowGeom& rg, int Lx, int row,
                const LaneTile& t, const float* src, vf mul) {
  const int64_t C = layout.C;
  const int64_t tok0 = rg.unpacked(row) * Lx;
  float buf[256];
  for (int l = 0; l < t.lanes; ++l) {
    const size_t at = layout.index(b, tok0 + t.x[l], h, 0);
    const float f = mul[l];
    for (int64_t c0 = 0; c0 < C; c0 += 256) {
      const int64_t n = C - c0 < 256 ? C - c0 : 256;
      for (int64_t c = 0; c < n; ++c) buf[c] = src[(c0 + c) * kLanes + l] * f;
      store_row(dst, layout.type, at + c0, n, buf);
    }
  }
}

void add_tile_f32(float* dst, const FusedView& layout, int64_t b, int64_t h, const RowGeom& rg, int Lx, int row,
                  const LaneTile& t, const float* src, vf mul) {
  const int64_t C = layout.C;
  const int64_t tok0 = rg.unpacked(row) * Lx;
  for (int l = 0; l < t.lanes; ++l) {
    float* d = dst + layout.index(b, tok0 + t.x[l], h, 0);
    const float f = mul[l];
    for (int64_t c = 0; c < C; ++c) d[c] += src[c * kLanes + l] * f;
  }
}

}  // namespace natten::cpu
