// The one definition of "neighbour" (docs/design.md §5). Every kernel, the CPU engine and the launch
// layer's argument checks use these functions; nothing else may re-derive a window.
//
// Per spatial axis of length L, kernel size k >= 2, stride 1 <= s <= k, dilation d >= 1 (k*d <= L) and a
// causal flag. Query i belongs to dilation group g = i mod d and has group-local index i' = i / d. Its keys
// are j = j'*d + g for j' in the half-open group-local range [start, end) returned by axis_window().
// Multi-dimensional windows are the AND (cartesian product) over axes.
#pragma once
#include <stdint.h>
#include "hostdevice.h"

namespace natten {

/// Window parameters of one spatial axis.
struct AxisParams {
  int length;    // L
  int kernel;    // k
  int stride;    // s
  int dilation;  // d
  bool causal;
};

/// Half-open range [start, end) in group-local coordinates.
struct Range {
  int start;
  int end;
};

/// Number of positions in dilation group g of an axis of length L (groups are ragged when L mod d != 0).
NATTEN_HD int group_length(int length, int dilation, int group) {
  return length / dilation + (group < length % dilation ? 1 : 0);
}

/// Keys (group-local) seen by group-local query iq in a group of length lg.
NATTEN_HD Range local_window(int iq, int lg, int kernel, int stride, bool causal) {
  if (causal) {
    int leader = (iq / stride) * stride + stride - 1;
    if (leader > lg - 1) leader = lg - 1;
    int start = leader - kernel + 1;
    if (start < 0) start = 0;
    int end = iq + 1 < lg ? iq + 1 : lg;
    return {start, end};
  }
  const int left = kernel / 2;
  const int right = kernel / 2 + (kernel % 2) - 1;
  int leader = (iq / stride) * stride + stride / 2;
  if (leader > lg - 1) leader = lg - 1;
  int start = leader - left > 0 ? leader - left : 0;
  if (leader + right >= lg) start += lg - right - leader - 1;
  return {start, start + kernel};
}

/// Keys (group-local) seen by global query index i on one axis.
NATTEN_HD Range axis_window(const AxisParams& a, int i) {
  const int g = i % a.dilation;
  return local_window(i / a.dilation, group_length(a.length, a.dilation, g), a.kernel, a.stride, a.causal);
}

/// The first x in [lo, hi) with pred(x), hi when there is none, for a predicate that is false then true over
/// the range: bisection, one probe at a time. (A kernel may pass a search of its own with the same contract,
/// e.g. a warp probing 32 points per round.)
struct Bisect {
  template <class Pred>
  NATTEN_HD int operator()(int lo, int hi, Pred pred) const {
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (pred(mid)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
};

/// Group-local queries [start, end) whose window contains group-local key jk. Windows are monotone in the
/// query index (start and end never decrease), so the set is an interval found by two searches.
template <class Search = Bisect>
NATTEN_HD Range local_inverse_window(int jk, int lg, int kernel, int stride, bool causal, const Search& search = {}) {
  // First query whose window end is past jk, then the first whose window starts after jk.
  const int first = search(0, lg, [&](int q) { return local_window(q, lg, kernel, stride, causal).end > jk; });
  const int last = search(first, lg, [&](int q) { return local_window(q, lg, kernel, stride, causal).start > jk; });
  return {first, last};
}

/// Global queries seen by key j on one axis, as a group-local range (queries are i' * d + g).
NATTEN_HD Range axis_inverse_window(const AxisParams& a, int j) {
  const int g = j % a.dilation;
  return local_inverse_window(j / a.dilation, group_length(a.length, a.dilation, g), a.kernel, a.stride, a.causal);
}

/// Relative-position-bias index of key j for query i on one axis (odd kernel, non-causal): in [0, 2k-1).
NATTEN_HD int rpb_index(const AxisParams& a, int i, int j) {
  return (j / a.dilation) - (i / a.dilation) + a.kernel - 1;
}

}  // namespace natten
