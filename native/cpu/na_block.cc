#include "na_block.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

namespace natten::cpu {
namespace {

// ---- dispatch tables: a runtime size picks a kernel instantiated for that size ----

template <int NO, bool R0, bool R1>
void qk_fn(const float* a0, const float* a1, const float* b, int64_t ldb, int depth, float* s0, float* s1) {
  qk_tile<NO, R0, R1>(a0, a1, b, ldb, depth, s0, s1);
}
using QkFn = void (*)(const float*, const float*, const float*, int64_t, int, float*, float*);
template <bool R0, bool R1, int... N>
constexpr std::array<QkFn, sizeof...(N)> qk_table(std::integer_sequence<int, N...>) {
  return {&qk_fn<N + 1, R0, R1>...};
}
using QkSeq = std::make_integer_sequence<int, kMaxQkOffsets>;
// Indexed by pattern - 1 (1: vector 0, 2: vector 1, 3: both), then offsets - 1.
const std::array<QkFn, kMaxQkOffsets> kQk[3] = {qk_table<true, false>(QkSeq{}), qk_table<false, true>(QkSeq{}),
                                                qk_table<true, true>(QkSeq{})};

template <int NO, bool R1>
void qk_bcast_fn(const float* a0, const float* a1, const float* b, int depth, float* s0, float* s1) {
  qk_bcast_tile<NO, true, R1>(a0, a1, b, depth, s0, s1);
}
using QkBcastFn = void (*)(const float*, const float*, const float*, int, float*, float*);
template <bool R1, int... N>
constexpr std::array<QkBcastFn, sizeof...(N)> qk_bcast_table(std::integer_sequence<int, N...>) {
  return {&qk_bcast_fn<N + 1, R1>...};
}
const std::array<QkBcastFn, kMaxQkOffsets> kQkBcast[2] = {qk_bcast_table<false>(QkSeq{}), qk_bcast_table<true>(QkSeq{})};

// pv keeps its accumulators in registers across every row of the chunk: one instantiation per column count.
template <int NJ>
void pv_run(const Block& b, const Chunk& ch, const float* const P[2], const float* B, int64_t row_stride,
            int64_t ldb, int j0, float* const C[2]) {
  vf acc0[NJ], acc1[NJ];
  const bool has0 = ch.n[0] > 0, has1 = b.nv > 1 && ch.n[1] > 0;
  for (int j = 0; j < NJ; ++j) {
    acc0[j] = has0 ? vload(C[0] + (j0 + j) * kLanes) : vzero();
    acc1[j] = has1 ? vload(C[1] + (j0 + j) * kLanes) : vzero();
  }
  const float* B0 = B + (int64_t)j0 * ldb + kPad;
  for (const Segment& sg : ch.segs) {
    const float* brow = B0 + (int64_t)b.rows[sg.i] * row_stride + sg.c0;
    const int n = sg.c1 - sg.c0;
    const float* p0 = (sg.pattern & 1) ? P[0] + ch.at(0, sg.i, sg.c0) : nullptr;
    const float* p1 = (sg.pattern & 2) ? P[1] + ch.at(1, sg.i, sg.c0) : nullptr;
    switch (sg.pattern) {
      case 1: pv_tile<NJ, true, false>(acc0, acc1, p0, p1, brow, ldb, n); break;
      case 2: pv_tile<NJ, false, true>(acc0, acc1, p0, p1, brow, ldb, n); break;
      default: pv_tile<NJ, true, true>(acc0, acc1, p0, p1, brow, ldb, n); break;
    }
  }
  for (int j = 0; j < NJ; ++j) {
    if (has0) vstore(C[0] + (j0 + j) * kLanes, acc0[j]);
    if (has1) vstore(C[1] + (j0 + j) * kLanes, acc1[j]);
  }
}
using PvFn = void (*)(const Block&, const Chunk&, const float* const*, const float*, int64_t, int64_t, int,
                      float* const*);
template <int... N>
constexpr std::array<PvFn, sizeof...(N)> pv_table(std::integer_sequence<int, N...>) {
  return {&pv_run<N + 1>...};
}
const std::array<PvFn, kMaxPvCols> kPv = pv_table(std::make_integer_sequence<int, kMaxPvCols>{});

template <int NJ>
void pv_shared_run(int nv, const float* const P[2], const float* V, int64_t ldv, int n, int j0, float* const C[2]) {
  vf acc0[NJ], acc1[NJ];
  for (int j = 0; j < NJ; ++j) {
    acc0[j] = vload(C[0] + (j0 + j) * kLanes);
    acc1[j] = nv > 1 ? vload(C[1] + (j0 + j) * kLanes) : vzero();
  }
  if (nv > 1) pv_bcast_tile<NJ, true, true>(acc0, acc1, P[0], P[1], V + j0, ldv, n);
  else pv_bcast_tile<NJ, true, false>(acc0, acc1, P[0], nullptr, V + j0, ldv, n);
  for (int j = 0; j < NJ; ++j) {
    vstore(C[0] + (j0 + j) * kLanes, acc0[j]);
    if (nv > 1) vstore(C[1] + (j0 + j) * kLanes, acc1[j]);
  }
}
using PvSharedFn = void (*)(int, const float* const*, const float*, int64_t, int, int, float* const*);
template <int... N>
constexpr std::array<PvSharedFn, sizeof...(N)> pv_shared_table(std::integer_sequence<int, N...>) {
  return {&pv_shared_run<N + 1>...};
}
const std::array<PvSharedFn, kMaxPvCols> kPvShared = pv_shared_table(std::make_integer_sequence<int, kMaxPvCols>{});

}  // namespace

void block_rows(const RowGeom& rg, Relation rel, Block& b, std::vector<int>& tmp0, std::vector<int>& tmp1) {
  rg.related(b.v[0].row, rel, tmp0);
  if (b.nv > 1) rg.related(b.v[1].row, rel, tmp1);
  else tmp1.clear();
  b.rows.clear();
  b.act.clear();
  size_t i = 0, j = 0;
  while (i < tmp0.size() || j < tmp1.size()) {
    if (j == tmp1.size() || (i < tmp0.size() && tmp0[i] < tmp1[j])) {
      b.rows.push_back(tmp0[i++]);
      b.act.push_back(1);
    } else if (i == tmp0.size() || tmp1[j] < tmp0[i]) {
      b.rows.push_back(tmp1[j++]);
      b.act.push_back(2);
    } else {
      b.rows.push_back(tmp0[i++]);
      b.act.push_back(3);
      ++j;
    }
  }
}

namespace {
/// The segments of row index i within chunk ch (at most 3), appended to out.
void row_segments(const Block& b, const Chunk& ch, int i, std::vector<Segment>& out) {
  int s[2] = {0, 0}, e[2] = {0, 0};
  bool on[2] = {false, false};
  for (int v = 0; v < b.nv; ++v) {
    if ((b.act[i] >> v & 1) && ch.n[v] > 0) {
      on[v] = true;
      s[v] = ch.base[v] + ch.o_lo[v];
      e[v] = s[v] + ch.n[v];
    }
  }
  if (!on[0] && !on[1]) return;
  if (on[0] != on[1]) {
    const int v = on[0] ? 0 : 1;
    out.push_back({i, s[v], e[v], 1 << v});
    return;
  }
  // Both: cut at the four end points.
  int pts[4] = {s[0], e[0], s[1], e[1]};
  std::sort(pts, pts + 4);
  for (int k = 0; k < 3; ++k) {
    const int a = pts[k], z = pts[k + 1];
    if (z <= a) continue;
    const int pat = (a >= s[0] && z <= e[0] ? 1 : 0) | (a >= s[1] && z <= e[1] ? 2 : 0);
    if (pat) out.push_back({i, a, z, pat});
  }
}
}  // namespace

void plan_chunks(const Block& b, int64_t budget, std::vector<Chunk>& out) {
  out.clear();
  int cmin = 1 << 30, cmax = -(1 << 30);
  int64_t width = 0;
  for (int v = 0; v < b.nv; ++v) {
    const LaneTile& t = *b.v[v].tile;
    cmin = std::min(cmin, t.base);
    cmax = std::max(cmax, t.base + t.E);
    width += t.E;
  }
  const int nrows = (int)b.rows.size();
  if (nrows == 0 || cmax <= cmin) return;
  int rows_per = 1, cols_per = cmax - cmin;
  if (width <= budget) {
    rows_per = (int)std::max<int64_t>(1, budget / std::max<int64_t>(1, width));
  } else {
    cols_per = (int)std::max<int64_t>(kLanes, budget / b.nv);
  }
  for (int r0 = 0; r0 < nrows; r0 += rows_per) {
    for (int c0 = cmin; c0 < cmax; c0 += cols_per) {
      Chunk ch;
      ch.r0 = r0;
      ch.r1 = std::min(nrows, r0 + rows_per);
      ch.c0 = c0;
      ch.c1 = std::min(cmax, c0 + cols_per);
      for (int v = 0; v < b.nv; ++v) {
        const LaneTile& t = *b.v[v].tile;
        ch.base[v] = t.base;
        const int lo = std::max(0, ch.c0 - t.base), hi = std::min(t.E, ch.c1 - t.base);
        ch.o_lo[v] = lo;
        ch.n[v] = std::max(0, hi - lo);
      }
      for (int i = ch.r0; i < ch.r1; ++i) row_segments(b, ch, i, ch.segs);
      out.push_back(std::move(ch));
    }
  }
}

void qk_chunk(const Block& b, const Chunk& ch, const float* const A[2], const float* B, int64_t row_stride,
              int64_t ldb, int depth, float* const S[2]) {
  for (const Segment& sg : ch.segs) {
    const float* brow = B + (int64_t)b.rows[sg.i] * row_stride + kPad;
    // Equal pieces of at most kMaxQkOffsets (19 = 10 + 9, not 14 + 5: short pieces waste their Q loads).
    const int width = sg.c1 - sg.c0, pieces = (width + kMaxQkOffsets - 1) / kMaxQkOffsets;
    for (int piece = 0, c = sg.c0; piece < pieces; ++piece) {
      const int n = width / pieces + (piece < width % pieces ? 1 : 0);
      float* s0 = (sg.pattern & 1) ? S[0] + ch.at(0, sg.i, c) : nullptr;
      float* s1 = (sg.pattern & 2) ? S[1] + ch.at(1, sg.i, c) : nullptr;
      kQk[sg.pattern - 1][n - 1](A[0], b.nv > 1 ? A[1] : nullptr, brow + c, ldb, depth, s0, s1);
      c += n;
    }
  }
}

void mask_chunk(const Block& b, const Chunk& ch, float* const S[2]) {
  const vf ninf = vset(-INFINITY);
  for (int v = 0; v < b.nv; ++v) {
    if (ch.n[v] == 0) continue;
    const LaneTile& t = *b.v[v].tile;
    for (int i = ch.r0; i < ch.r1; ++i) {
      float* s = S[v] + (int64_t)(i - ch.r0) * ch.n[v] * kLanes;
      if (!(b.act[i] >> v & 1)) {
        for (int o = 0; o < ch.n[v]; ++o) vstore(s + o * kLanes, ninf);
        continue;
      }
      for (int o = 0; o < ch.n[v]; ++o) {
        const uint16_t m = t.mask[ch.o_lo[v] + o];
        if (m != 0xffff) vstore(s + o * kLanes, vselect(vmask(m), vload(s + o * kLanes), ninf));
      }
    }
  }
}

void pv_chunk(const Block& b, const Chunk& ch, const float* const P[2], const float* B, int64_t row_stride,
              int64_t ldb, int ncols, float* const C[2]) {
  const int pieces = (ncols + kMaxPvCols - 1) / kMaxPvCols;
  for (int piece = 0, j0 = 0; piece < pieces; ++piece) {
    const int nj = ncols / pieces + (piece < ncols % pieces ? 1 : 0);
    kPv[nj - 1](b, ch, P, B, row_stride, ldb, j0, C);
    j0 += nj;
  }
}

void qk_shared(int nv, const float* const A[2], const float* K, int n, int depth, float* const S[2]) {
  for (int e = 0; e < n; e += kMaxQkOffsets) {
    const int m = std::min(kMaxQkOffsets, n - e);
    kQkBcast[nv > 1][m - 1](A[0], nv > 1 ? A[1] : nullptr, K + (int64_t)e * depth, depth, S[0] + e * kLanes,
                            nv > 1 ? S[1] + e * kLanes : nullptr);
  }
}

void pv_shared(int nv, const float* const P[2], const float* V, int64_t ldv, int n, int ncols, float* const C[2]) {
  for (int j0 = 0; j0 < ncols; j0 += kMaxPvCols) {
    const int nj = std::min(kMaxPvCols, ncols - j0);
    kPvShared[nj - 1](nv, P, V, ldv, n, j0, C);
  }
}

}  // namespace natten::cpu
