#include "fna_common.h"

#include <string.h>

#include <algorithm>

#include "elem_io.h"
#include "parallel.h"

namespace natten::cpu::NATTEN_SIMD {

PassGeom::PassGeom(const NaProblem& p, Relation rel)
    : xg(p.axis(p.dims - 1)), rg(p), Lx(p.length[p.dims - 1]), W(packed_width(p.length[p.dims - 1])) {
  tiles = plan_lane_tiles(xg, rel);
  const int ntiles = (int)tiles.size();
  if (rg.dims_outer == 0) {
    // 1-D: up to four neighbouring tiles of one dilation group (their columns overlap: loads are shared).
    for (int t = 0; t < ntiles;) {
      Item it{0, {}, {}};
      const int g = xg.group_of_packed(tiles[t].p0);
      while (it.nv < kBlockVecs && t < ntiles && xg.group_of_packed(tiles[t].p0) == g) {
        it.row[it.nv] = 0;
        it.tile[it.nv++] = t++;
      }
      items.push_back(it);
    }
    return;
  }
  // 2-D/3-D: up to `most` neighbouring rows of one dilation group of the last outer axis (their related
  // rows overlap), for every tile. Four rows share loads best, but with a short window on that axis few
  // other-side rows relate to all four (measured: 2-D k=7 runs fastest with 3, k=13 and 3-D with 4).
  const AxisGeom& ya = rg.axes.back();
  const int Ly = ya.a.length;
  const int most = std::min(rg.dims_outer == 2 || ya.a.kernel >= 11 ? kMaxVecs : 3, kBlockVecs);
  for (int r = 0; r < rg.rows;) {
    const int y = r % Ly, g = ya.group_of_packed(y);
    int n = 1;
    while (n < most && y + n < Ly && ya.group_of_packed(y + n) == g) ++n;
    for (int t = 0; t < ntiles; ++t) {
      Item it{n, {}, {}};
      for (int v = 0; v < n; ++v) {
        it.row[v] = r + v;
        it.tile[v] = t;
      }
      items.push_back(it);
    }
    r += n;
  }
}

void pack_heads(const FusedView& src, int64_t B, int64_t h0, int64_t nh, const PassGeom& g, float scale, float* dst) {
  const int64_t rows = g.rg.rows, per_row = src.C * g.W;
  parallel_for(B * nh * rows, 4, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t row = i % rows, bh = i / rows;
      const int64_t b = bh / nh, h = h0 + bh % nh;
      pack_row(src, b, h, g.rg, g.xg, (int)row, g.W, scale, dst + i * per_row);
    }
  });
  vstore(dst + B * nh * rows * per_row, vzero());
}

void pack_extra(const void* src, DType t, int64_t B, int64_t n, int64_t Hkv, int64_t C, float* dst) {
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hkv; ++h)
      for (int64_t e = 0; e < n; ++e)
        load_row(src, t, (size_t)(((b * n + e) * Hkv + h) * C), C, dst + ((b * Hkv + h) * n + e) * C);
}

FloatBuffer& workspace(int slot) {
  // Never destroyed: pool threads may still read the slots while the process exits.
  static FloatBuffer* slots = new FloatBuffer[kWorkspaceSlots];
  return slots[slot];
}

void release_workspace() {
  int64_t kept = 0;
  for (int i = 0; i < kWorkspaceSlots; ++i) {
    FloatBuffer& b = workspace(i);
    if (kept + b.size() * 4 > kWorkspaceKeep) b.clear();
    else kept += b.size() * 4;
  }
}

Scratch& Scratch::local(int64_t vectors) {
  thread_local Scratch s;
  s.buf.resize(vectors * kLanes);
  return s;
}

void online_softmax(const Block& b, const Chunk& ch, int v, float* S, vf& m, vf& l, float* acc, int64_t ncols,
                    bool rescale) {
  vf mx = m;
  for_active_rows(b, ch, v, [&](int64_t at, int64_t n) {
    for (int64_t i = 0; i < n; ++i) mx = vmax(mx, vload(S + at + i * kLanes));
  });
  const vf alpha = vexp2(m - mx);
  m = mx;
  vf sum = l * alpha;
  if (rescale)
    for (int64_t j = 0; j < ncols; ++j) vstore(acc + j * kLanes, vload(acc + j * kLanes) * alpha);
  for_active_rows(b, ch, v, [&](int64_t at, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      const vf p = vexp2(vload(S + at + i * kLanes) - mx);
      vstore(S + at + i * kLanes, p);
      sum += p;
    }
  });
  l = sum;
}

void online_softmax(float* S, int64_t n, vf& m, vf& l, float* acc, int64_t ncols, bool rescale) {
  vf mx = m;
  for (int64_t i = 0; i < n; ++i) mx = vmax(mx, vload(S + i * kLanes));
  const vf alpha = vexp2(m - mx);
  m = mx;
  vf sum = l * alpha;
  if (rescale)
    for (int64_t j = 0; j < ncols; ++j) vstore(acc + j * kLanes, vload(acc + j * kLanes) * alpha);
  for (int64_t i = 0; i < n; ++i) {
    const vf p = vexp2(vload(S + i * kLanes) - mx);
    vstore(S + i * kLanes, p);
    sum += p;
  }
  l = sum;
}

}  // namespace natten::cpu::NATTEN_SIMD
