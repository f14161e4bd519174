// Tile-level window math for the fused kernels (forward and backward), host and device, built only on
// kernels/common/window.h (the one definition of a neighbour).
//
// Dilation is folded away: a CTA works inside one dilation group per axis, where the problem is plain
// (dilation-free) NA on a shorter axis of length lg = group_length(L, d, g). Tiles are therefore given in
// group-local coordinates; a group-local index x' maps back to the global index x = x' * d + g.
//
// Monotonicity (checked by brute force in the fused tests): within a group, start(i) and end(i) of the
// window never decrease with the query index i. Hence for a Q tile [q0, q1):
//   - the keys any of its queries sees lie in [start(q0), end(q1 - 1))               (tile_kv_range)
//   - a key tile [k0, k1) is seen whole by every query iff start(q1-1) <= k0 and end(q0) >= k1
//     ("interior": no element mask needed)                                             (tile_interior)
// and, since the queries seeing key j form an interval whose ends are monotone in j, the queries that
// see any key of a key tile [k0, k1) lie in [first(k0), last(k1 - 1))               (tile_q_range).
#pragma once
#include "problem.h"
#include "window.h"

namespace natten::fused {

NATTEN_HD int ceil_div(int a, int b) { return (a + b - 1) / b; }
NATTEN_HD int min_int(int a, int b) { return a < b ? a : b; }

/// One axis seen from inside one dilation group.
struct GroupAxis {
  int lg;  // group length
  int kernel;
  int stride;
  int dilation;
  int group;  // g
  bool causal;

  /// Global index of group-local index `local`.
  NATTEN_HD int global(int local) const { return local * dilation + group; }
  /// Window (group-local keys) of group-local query `iq`.
  NATTEN_HD Range window(int iq) const { return local_window(iq, lg, kernel, stride, causal); }
};

NATTEN_HD GroupAxis group_axis(const AxisParams& a, int g) {
  return {group_length(a.length, a.dilation, g), a.kernel, a.stride, a.dilation, g, a.causal};
}

/// Keys seen by any query of the Q tile [q0, q0 + qn) (clipped to the group): [start(first), end(last)).
/// Empty ({0, 0}) when the tile starts past the group's end.
NATTEN_HD Range tile_kv_range(const GroupAxis& ax, int q0, int qn) {
  const int q_last = min_int(q0 + qn, ax.lg) - 1;
  if (q_last < q0) return {0, 0};
  return {ax.window(q0).start, ax.window(q_last).end};
}

/// True when every (in-group) query of the Q tile [q0, q0 + qn) sees every key of [k0, k0 + kn): the
/// tile pair needs no element mask on this axis. Keys past the group's end are never interior.
NATTEN_HD bool tile_interior(const GroupAxis& ax, int q0, int qn, int k0, int kn) {
  const int q_last = min_int(q0 + qn, ax.lg) - 1;
  if (q_last < q0) return false;
  return ax.window(q_last).start <= k0 && ax.window(q0).end >= k0 + kn;
}

/// Queries that see any key of the key tile [k0, k0 + kn) (clipped to the group), for the backward
/// KV-parallel walk: [first query seeing k0, one past the last query seeing the tile's last key).
template <class Search = Bisect>
NATTEN_HD Range tile_q_range(const GroupAxis& ax, int k0, int kn, const Search& search = {}) {
  const int k_last = min_int(k0 + kn, ax.lg) - 1;
  if (k_last < k0) return {0, 0};
  const Range first = local_inverse_window(k0, ax.lg, ax.kernel, ax.stride, ax.causal, search);
  const Range last = local_inverse_window(k_last, ax.lg, ax.kernel, ax.stride, ax.causal, search);
  return {first.start, last.end};
}

/// The widest key range (tile_kv_range) of any Q tile of extent qt on an axis, over its dilation groups (the
/// window depends on the group only through its length, and groups have at most two lengths).
NATTEN_HD int max_tile_kv_extent(const AxisParams& a, int qt) {
  int widest = 0;
  const int last_group = (a.dilation < a.length ? a.dilation : a.length) - 1;
  for (int g : {0, last_group}) {
    const GroupAxis ax = group_axis(a, g);
    for (int q0 = 0; q0 < ax.lg; q0 += qt) {
      const Range r = tile_kv_range(ax, q0, qt);
      if (r.end - r.start > widest) widest = r.end - r.start;
    }
  }
  return widest;
}

// ---- folding dilation groups and tiles into a grid ------------------------------------------------------

/// Number of tiles of extent t per group on an axis of length L with dilation d (the longest group sets
/// it; shorter ragged groups may leave their last slot empty, which the CTA detects with slot_origin).
NATTEN_HD int tiles_per_group(int length, int dilation, int t) { return ceil_div(ceil_div(length, dilation), t); }

/// Grid slots of one axis: every (group, tile) pair, group-major so neighbouring CTAs share K/V halos.
NATTEN_HD int axis_slots(int length, int dilation, int t) { return dilation * tiles_per_group(length, dilation, t); }

/// A CTA's place on one axis: dilation group and the group-local origin of its tile.
struct AxisSlot {
  int group;
  int origin;
};

NATTEN_HD AxisSlot decode_slot(int slot, int length, int dilation, int t) {
  const int per_group = tiles_per_group(length, dilation, t);
  return {slot / per_group, (slot % per_group) * t};
}

/// Total grid slots over all axes of a problem for a Q tile shape (product of axis_slots).
NATTEN_HD int64_t grid_slots(const NaProblem& p, const int (&tile)[kMaxDims]) {
  int64_t n = 1;
  for (int a = 0; a < p.dims; ++a) n *= axis_slots(p.length[a], p.dilation[a], tile[a]);
  return n;
}

/// Splits a linear slot index into per-axis slots, last axis fastest (row-major like the tokens).
NATTEN_HD void decode_slots(const NaProblem& p, const int (&tile)[kMaxDims], int64_t linear,
                            AxisSlot (&out)[kMaxDims]) {
  for (int a = p.dims - 1; a >= 0; --a) {
    const int n = axis_slots(p.length[a], p.dilation[a], tile[a]);
    out[a] = decode_slot(static_cast<int>(linear % n), p.length[a], p.dilation[a], tile[a]);
    linear /= n;
  }
  for (int a = p.dims; a < kMaxDims; ++a) out[a] = {0, 0};
}

// ---- interior spans (added for the backward kernels) ----------------------------------------------------
// The pairs whose element mask can be skipped, as index intervals, so a kernel tests a pair with two
// compares instead of recomputing windows: by monotonicity tile_interior() holds on an interval of Q
// tiles for a fixed key tile, and on an interval of key tiles for a fixed Q tile.

/// Q tile indices t in [first, first + n) (tile t = queries [t*qt, t*qt + qt), inside the group) for
/// which tile_interior(ax, t*qt, qt, k0, kn) holds, as [lo, hi) (empty when lo == hi).
template <class Search = Bisect>
NATTEN_HD Range interior_q_tiles(const GroupAxis& ax, int k0, int kn, int qt, int first, int n,
                                 const Search& search = {}) {
  // tile_interior = A && B, A(t): start(last query of t) <= k0 (true on a prefix),
  // B(t): end(first query of t) >= k0 + kn (true on a suffix).
  const int lo = search(first, first + n, [&](int t) { return ax.window(t * qt).end >= k0 + kn; });
  const int hi = search(first, first + n, [&](int t) { return ax.window(min_int(t * qt + qt, ax.lg) - 1).start > k0; });
  return {lo, hi > lo ? hi : lo};
}

/// Key tile indices u in [first, first + n) (tile u = keys [u*kt, u*kt + kt)) for which
/// tile_interior(ax, q0, qn, u*kt, kt) holds, as [lo, hi) (empty when lo == hi).
NATTEN_HD Range interior_kv_tiles(const GroupAxis& ax, int q0, int qn, int kt, int first, int n) {
  const int q_last = min_int(q0 + qn, ax.lg) - 1;
  if (q_last < q0) return {first, first};
  const int s = ax.window(q_last).start, e = ax.window(q0).end;
  // s <= u*kt and u*kt + kt <= e
  int lo = ceil_div(s, kt), hi = e >= kt ? (e - kt) / kt + 1 : 0;
  if (lo < first) lo = first;
  if (hi > first + n) hi = first + n;
  return {lo, hi > lo ? hi : lo};
}

}  // namespace natten::fused
