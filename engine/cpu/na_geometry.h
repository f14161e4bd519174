// Geometry of the CPU engine: tokens renumbered so that each dilation group of an axis is contiguous
// ("packed" coordinates), which makes every window a contiguous range; query/key tiles of 16 lanes along
// the innermost axis, with the sliding-window pattern that lets one unaligned vector load serve every lane.
// All windows come from kernels/common/window.h.
#pragma once
#include <stdint.h>

#include <vector>

#include "../../kernels/common/problem.h"
#include "../../kernels/common/window.h"
#include "vec.h"

namespace natten::cpu::NATTEN_SIMD {

/// Which neighbourhood relation a pass walks: keys of a query (forward) or queries of a key (inverse).
enum class Relation { Window, InverseWindow };

/// One axis in packed coordinates: group g occupies [offset(g), offset(g) + group_length(g)).
struct AxisGeom {
  AxisParams a;
  int q = 0, r = 0;  // L / d and L % d: the first r groups have q + 1 positions

  explicit AxisGeom(const AxisParams& p) : a(p), q(p.length / p.dilation), r(p.length % p.dilation) {}

  int offset(int g) const { return g * q + (g < r ? g : r); }
  int group_len(int g) const { return group_length(a.length, a.dilation, g); }
  int group_of_packed(int p) const { return p < r * (q + 1) ? p / (q + 1) : r + (p - r * (q + 1)) / q; }
  int pack(int i) const { return offset(i % a.dilation) + i / a.dilation; }
  int unpack(int p) const {
    const int g = group_of_packed(p);
    return (p - offset(g)) * a.dilation + g;
  }
  /// Packed range related to packed position p (keys of query p, or queries of key p).
  Range related(int p, Relation rel) const {
    const int g = group_of_packed(p);
    const int lg = group_len(g);
    const int local = p - offset(g);
    const Range w = rel == Relation::Window ? local_window(local, lg, a.kernel, a.stride, a.causal)
                                            : local_inverse_window(local, lg, a.kernel, a.stride, a.causal);
    const int o = offset(g);
    return {w.start + o, w.end + o};
  }
};

/// 16 neighbouring positions of one dilation group along the innermost axis. Lane l sits at packed
/// column p0 + l; at offset o it reads the other side's column base + l + o, which is related to it iff
/// bit l of mask[o] is set. Offsets run over [0, E).
struct LaneTile {
  int p0 = 0;
  int lanes = 0;  // valid lanes (the rest are padding)
  int base = 0;
  int E = 0;
  int x[kLanes] = {};  // unpacked innermost coordinate of each valid lane
  std::vector<uint16_t> mask;
  /// partial_before[o]: offsets below o whose mask leaves out some valid lane (E + 1 entries). Tiles of
  /// interior queries slide with their windows (every mask full); edge tiles (clamped windows), stride and
  /// ragged dilation groups have partial offsets.
  std::vector<int> partial_before;
  /// True when an offset in [o0, o1) leaves out a valid lane: a lane there reads a key outside its window.
  bool partial(int o0, int o1) const { return partial_before[o1] != partial_before[o0]; }
  /// True when some offset leaves out a valid lane.
  bool any_partial() const { return partial_before[E] != 0; }
};

/// The tiles covering an axis, group by group.
std::vector<LaneTile> plan_lane_tiles(const AxisGeom& g, Relation rel);

/// The outer (all but innermost) axes of a problem: rows in packed coordinates.
struct RowGeom {
  int dims_outer = 0;          // 0 (1-D), 1 (2-D) or 2 (3-D)
  std::vector<AxisGeom> axes;  // outer axes, outermost first
  int rows = 1;                // product of outer lengths

  explicit RowGeom(const NaProblem& p);
  /// Flat row index in the original (unpacked) row-major order of packed row `row`.
  int64_t unpacked(int row) const;
  /// Packed rows related to packed row `row`, ascending.
  void related(int row, Relation rel, std::vector<int>& out) const;
  /// Packed coordinate of `row` on the last outer axis, and the length of that axis (1 for 1-D).
  int inner_coord(int row) const { return dims_outer == 0 ? 0 : row % axes.back().a.length; }
  /// Group of `row` on the last outer axis (rows of one block must share it).
  int inner_group(int row) const { return dims_outer == 0 ? 0 : axes.back().group_of_packed(inner_coord(row)); }
};

}  // namespace natten::cpu::NATTEN_SIMD
