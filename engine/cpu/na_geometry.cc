#include "na_geometry.h"

#include <algorithm>

namespace natten::cpu::NATTEN_SIMD {

std::vector<LaneTile> plan_lane_tiles(const AxisGeom& g, Relation rel) {
  std::vector<LaneTile> tiles;
  for (int grp = 0; grp < g.a.dilation; ++grp) {
    const int begin = g.offset(grp), end = begin + g.group_len(grp);
    for (int p0 = begin; p0 < end; p0 += kLanes) {
      LaneTile t;
      t.p0 = p0;
      t.lanes = std::min(kLanes, end - p0);
      Range w[kLanes];
      int lo = 1 << 30, hi = -(1 << 30);
      for (int l = 0; l < t.lanes; ++l) {
        t.x[l] = g.unpack(p0 + l);
        w[l] = g.related(p0 + l, rel);
        if (w[l].end > w[l].start) {
          lo = std::min(lo, w[l].start - l);
          hi = std::max(hi, w[l].end - l);
        }
      }
      if (hi < lo) {  // no lane relates to anything (cannot happen for valid windows): nothing to read
        lo = hi = 0;
      }
      t.base = lo;
      t.E = hi - lo;
      t.mask.assign(t.E, 0);
      for (int l = 0; l < t.lanes; ++l)
        for (int c = w[l].start; c < w[l].end; ++c) t.mask[c - l - lo] |= (uint16_t)(1u << l);
      const uint32_t valid = (1u << t.lanes) - 1u;
      t.partial_before.assign(t.E + 1, 0);
      for (int o = 0; o < t.E; ++o) t.partial_before[o + 1] = t.partial_before[o] + ((t.mask[o] & valid) != valid);
      tiles.push_back(std::move(t));
    }
  }
  return tiles;
}

RowGeom::RowGeom(const NaProblem& p) : dims_outer(p.dims - 1) {
  for (int a = 0; a < dims_outer; ++a) {
    axes.emplace_back(p.axis(a));
    rows *= p.length[a];
  }
}

int64_t RowGeom::unpacked(int row) const {
  if (dims_outer == 0) return 0;
  if (dims_outer == 1) return axes[0].unpack(row);
  const int l1 = axes[1].a.length;
  return (int64_t)axes[0].unpack(row / l1) * l1 + axes[1].unpack(row % l1);
}

void RowGeom::related(int row, Relation rel, std::vector<int>& out) const {
  out.clear();
  if (dims_outer == 0) {
    out.push_back(0);
    return;
  }
  if (dims_outer == 1) {
    const Range r = axes[0].related(row, rel);
    for (int i = r.start; i < r.end; ++i) out.push_back(i);
    return;
  }
  const int l1 = axes[1].a.length;
  const Range r0 = axes[0].related(row / l1, rel);
  const Range r1 = axes[1].related(row % l1, rel);
  for (int i = r0.start; i < r0.end; ++i)
    for (int j = r1.start; j < r1.end; ++j) out.push_back(i * l1 + j);
}

}  // namespace natten::cpu::NATTEN_SIMD
