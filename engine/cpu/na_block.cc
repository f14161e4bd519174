#include "na_block.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

namespace natten::cpu::NATTEN_SIMD {
namespace {

// ---- dispatch tables: runtime sizes pick a kernel instantiated for them ----

template <int NR, int NO>
void qk_fn(const float* const* a, const float* b, int64_t ldb, int depth, float* const* s) {
  if constexpr (NO <= kMaxQkOffsets[NR]) qk_tile<NR, NO>(a, b, ldb, depth, s);
}
using QkFn = void (*)(const float* const*, const float*, int64_t, int, float* const*);
template <int NR, int... N>
constexpr std::array<QkFn, sizeof...(N)> qk_row(std::integer_sequence<int, N...>) {
  return {&qk_fn<NR, N + 1>...};
}
using QkSeq = std::make_integer_sequence<int, kQkTableOffsets>;
// Indexed by rows - 1, then offsets - 1 (entries past kMaxQkOffsets[rows] are never called).
const std::array<QkFn, kQkTableOffsets> kQk[kMaxVecs] = {qk_row<1>(QkSeq{}), qk_row<2>(QkSeq{}), qk_row<3>(QkSeq{}),
                                                         qk_row<4>(QkSeq{})};

template <int NR, int NO>
void qk_bcast_fn(const float* const* a, const float* b, int depth, float* const* s) {
  if constexpr (NO <= kMaxQkOffsets[NR]) qk_bcast_tile<NR, NO>(a, b, depth, s);
}
using QkBcastFn = void (*)(const float* const*, const float*, int, float* const*);
template <int NR, int... N>
constexpr std::array<QkBcastFn, sizeof...(N)> qk_bcast_row(std::integer_sequence<int, N...>) {
  return {&qk_bcast_fn<NR, N + 1>...};
}
const std::array<QkBcastFn, kQkTableOffsets> kQkBcast[kMaxVecs] = {qk_bcast_row<1>(QkSeq{}), qk_bcast_row<2>(QkSeq{}),
                                                                   qk_bcast_row<3>(QkSeq{}), qk_bcast_row<4>(QkSeq{})};

/// C_{F+r}[j0 + j] += P over the segments segs[begin, end) of one vector subset [F, F + C), r < C, j < NJ:
/// the C rows' accumulators stay in registers across the segments; the next segment's value rows are
/// prefetched. Exact: segments where a lane reads a position outside its window (tile mask) leave that
/// lane out (pv_tile's Masked form) instead of adding a zero weight times the value.
template <int C, int NJ, bool Exact>
void pv_subset(const Block& b, const Chunk& ch, int begin, int end, int F, VecPtrs P, const float* B0,
               int64_t row_stride, int64_t ldb, int j0, MutVecPtrs Cacc) {
  if constexpr (NJ <= kMaxPvCols[C]) {
    vf acc[C][NJ];
    for (int r = 0; r < C; ++r)
      for (int j = 0; j < NJ; ++j) acc[r][j] = vload(Cacc[F + r] + (j0 + j) * kLanes);
    auto brow = [&](const Segment& sg) { return B0 + (int64_t)b.rows[sg.i] * row_stride + sg.c0; };
    for (int s = begin; s < end; ++s) {
      const Segment& sg = ch.segs[s];
      const float* p[C];
      for (int r = 0; r < C; ++r) p[r] = P[F + r] + ch.at(F + r, sg.i, sg.c0);
      const float* next = s + 1 < end ? brow(ch.segs[s + 1]) : nullptr;
      if constexpr (Exact) {
        const uint16_t* lanes[C];
        bool masked = false;
        for (int r = 0; r < C; ++r) {
          const LaneTile& t = *b.v[F + r].tile;
          lanes[r] = t.mask.data() + (sg.c0 - t.base);
          masked = masked || t.partial(sg.c0 - t.base, sg.c1 - t.base);
        }
        if (masked) {
          pv_tile<C, NJ, 0, C, true>(acc, p, brow(sg), ldb, sg.c1 - sg.c0, next, lanes);
          continue;
        }
      }
      pv_tile<C, NJ, 0, C>(acc, p, brow(sg), ldb, sg.c1 - sg.c0, next);
    }
    for (int r = 0; r < C; ++r)
      for (int j = 0; j < NJ; ++j) vstore(Cacc[F + r] + (j0 + j) * kLanes, acc[r][j]);
  }
}
using PvFn = void (*)(const Block&, const Chunk&, int, int, int, VecPtrs, const float*, int64_t, int64_t, int,
                      MutVecPtrs);
template <int C, bool Exact, int... N>
constexpr std::array<PvFn, sizeof...(N)> pv_row(std::integer_sequence<int, N...>) {
  return {&pv_subset<C, N + 1, Exact>...};
}
using PvSeq = std::make_integer_sequence<int, kPvTableCols>;
// Indexed by rows - 1, then columns - 1 (entries past kMaxPvCols[rows] are never called).
const std::array<PvFn, kPvTableCols> kPv[kMaxVecs] = {pv_row<1, false>(PvSeq{}), pv_row<2, false>(PvSeq{}),
                                                      pv_row<3, false>(PvSeq{}), pv_row<4, false>(PvSeq{})};
const std::array<PvFn, kPvTableCols> kPvExact[kMaxVecs] = {pv_row<1, true>(PvSeq{}), pv_row<2, true>(PvSeq{}),
                                                           pv_row<3, true>(PvSeq{}), pv_row<4, true>(PvSeq{})};

template <int NV, int NJ>
void pv_shared_run(VecPtrs P, const float* V, int64_t ldv, int n, int j0, MutVecPtrs C) {
  if constexpr (NJ <= kMaxPvCols[NV]) {
    vf acc[NV][NJ];
    for (int v = 0; v < NV; ++v)
      for (int j = 0; j < NJ; ++j) acc[v][j] = vload(C[v] + (j0 + j) * kLanes);
    pv_bcast_tile<NV, NJ>(acc, P, V + j0, ldv, n);
    for (int v = 0; v < NV; ++v)
      for (int j = 0; j < NJ; ++j) vstore(C[v] + (j0 + j) * kLanes, acc[v][j]);
  }
}
using PvSharedFn = void (*)(VecPtrs, const float*, int64_t, int, int, MutVecPtrs);
template <int NV, int... N>
constexpr std::array<PvSharedFn, sizeof...(N)> pv_shared_row(std::integer_sequence<int, N...>) {
  return {&pv_shared_run<NV, N + 1>...};
}
const std::array<PvSharedFn, kPvTableCols> kPvShared[kMaxVecs] = {pv_shared_row<1>(PvSeq{}), pv_shared_row<2>(PvSeq{}),
                                                                  pv_shared_row<3>(PvSeq{}), pv_shared_row<4>(PvSeq{})};

/// Splits n into the fewest pieces of at most `most`, of (nearly) equal size: 19 = 10 + 9, not 14 + 5
/// (short pieces waste the loads of the other operand).
template <class Fn>
void split_even(int n, int most, Fn fn) {
  const int pieces = (n + most - 1) / most;
  for (int p = 0, at = 0; p < pieces; ++p) {
    const int len = n / pieces + (p < n % pieces ? 1 : 0);
    fn(at, len);
    at += len;
  }
}

/// Appends the segments of row index i within chunk ch to out: column runs with a constant set of
/// active vectors, each set split into contiguous runs of vectors.
void row_segments(const Block& b, const Chunk& ch, int i, std::vector<Segment>& out) {
  int s[kMaxVecs], e[kMaxVecs], pts[2 * kMaxVecs];
  int npts = 0;
  bool any = false;
  for (int v = 0; v < b.nv; ++v) {
    s[v] = e[v] = 0;
    if ((b.act[i] >> v & 1) && ch.n[v] > 0) {
      s[v] = ch.base[v] + ch.o_lo[v];
      e[v] = s[v] + ch.n[v];
      pts[npts++] = s[v];
      pts[npts++] = e[v];
      any = true;
    }
  }
  if (!any) return;
  for (int a = 1; a < npts; ++a)  // insertion sort of at most 8 end points
    for (int z = a; z > 0 && pts[z - 1] > pts[z]; --z) std::swap(pts[z - 1], pts[z]);
  for (int k = 0; k + 1 < npts; ++k) {
    const int c0 = pts[k], c1 = pts[k + 1];
    if (c1 <= c0) continue;
    for (int v = 0; v < b.nv;) {
      const auto on = [&](int u) { return (b.act[i] >> u & 1) && ch.n[u] > 0 && c0 >= s[u] && c1 <= e[u]; };
      if (!on(v)) {
        ++v;
        continue;
      }
      int w = v;
      while (w < b.nv && on(w)) ++w;
      out.push_back({i, c0, c1, v, w - v});
      v = w;
    }
  }
}

/// Orders ch.segs by vector subset (counting sort, stable) and records where each subset's run starts.
void group_by_subset(Chunk& ch) {
  constexpr int K = kMaxVecs * kMaxVecs;
  auto key = [](const Segment& s) { return s.first * kMaxVecs + s.count - 1; };
  int count[K + 1] = {};
  for (const Segment& s : ch.segs) ++count[key(s) + 1];
  for (int k = 0; k < K; ++k) count[k + 1] += count[k];
  for (int k = 0; k <= K; ++k) ch.subset_begin[k] = count[k];
  thread_local std::vector<Segment> sorted;
  sorted.resize(ch.segs.size());
  for (const Segment& s : ch.segs) sorted[count[key(s)]++] = s;
  ch.segs.swap(sorted);
}

}  // namespace

void block_rows(const RowGeom& rg, Relation rel, Block& b, std::vector<int>& tmp) {
  // (row << 4 | vector) keys, sorted, then merged per row.
  b.rows.clear();
  b.act.clear();
  thread_local std::vector<int> related;
  tmp.clear();
  for (int v = 0; v < b.nv; ++v) {
    rg.related(b.v[v].row, rel, related);
    for (int r : related) tmp.push_back(r << 4 | v);
  }
  std::sort(tmp.begin(), tmp.end());
  for (int k : tmp) {
    const int row = k >> 4;
    if (b.rows.empty() || b.rows.back() != row) {
      b.rows.push_back(row);
      b.act.push_back(0);
    }
    b.act.back() |= (uint8_t)(1u << (k & 15));
  }
}

void plan_chunks(const Block& b, int64_t budget, std::vector<Chunk>& out) {
  // Chunk objects (and their segment vectors) are reused from call to call: no allocation per item.
  size_t used = 0;
  auto next = [&]() -> Chunk& {
    if (used == out.size()) out.emplace_back();
    Chunk& ch = out[used++];
    ch.segs.clear();
    return ch;
  };
  int cmin = 1 << 30, cmax = -(1 << 30);
  int64_t widest = 0;
  for (int v = 0; v < b.nv; ++v) {
    const LaneTile& t = *b.v[v].tile;
    cmin = std::min(cmin, t.base);
    cmax = std::max(cmax, t.base + t.E);
    widest = std::max<int64_t>(widest, t.E);
  }
  const int nrows = (int)b.rows.size();
  if (nrows == 0 || cmax <= cmin) {
    out.resize(0);
    return;
  }
  int rows_per = 1, cols_per = cmax - cmin;
  const int64_t per_vec = std::max<int64_t>(kLanes, budget / b.nv);
  if (widest <= per_vec) rows_per = (int)std::max<int64_t>(1, per_vec / std::max<int64_t>(1, widest));
  else cols_per = (int)per_vec;
  for (int r0 = 0; r0 < nrows; r0 += rows_per) {
    for (int c0 = cmin; c0 < cmax; c0 += cols_per) {
      Chunk& ch = next();
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
      group_by_subset(ch);
    }
  }
  out.resize(used);
}

void qk_chunk(const Block& b, const Chunk& ch, VecPtrs A, const float* B, int64_t row_stride, int64_t ldb, int depth,
              MutVecPtrs S) {
  for (const Segment& sg : ch.segs) {
    const float* brow = B + (int64_t)b.rows[sg.i] * row_stride + kPad;
    split_even(sg.c1 - sg.c0, kMaxQkOffsets[sg.count], [&](int at, int n) {
      const int c = sg.c0 + at;
      float* s[kMaxVecs];
      for (int r = 0; r < sg.count; ++r) s[r] = S[sg.first + r] + ch.at(sg.first + r, sg.i, c);
      kQk[sg.count - 1][n - 1](A + sg.first, brow + c, ldb, depth, s);
    });
  }
}

void mask_chunk(const Block& b, const Chunk& ch, MutVecPtrs S) {
  const vf ninf = vset(-INFINITY);
  for (int v = 0; v < b.nv; ++v) {
    if (ch.n[v] == 0) continue;
    const LaneTile& t = *b.v[v].tile;
    for (int i = ch.r0; i < ch.r1; ++i) {
      float* s = S[v] + (int64_t)(i - ch.r0) * ch.n[v] * kLanes;
      if (!(b.act[i] >> v & 1)) continue;  // never read: every pass walks active rows only
      for (int o = 0; o < ch.n[v]; ++o) {
        const uint16_t m = t.mask[ch.o_lo[v] + o];
        if (m != 0xffff) vstore(s + o * kLanes, vselect(vmask(m), vload(s + o * kLanes), ninf));
      }
    }
  }
}

void pv_chunk(const Block& b, const Chunk& ch, VecPtrs P, const float* B, int64_t row_stride, int64_t ldb, int ncols,
              MutVecPtrs C, bool exact) {
  const float* B0 = B + kPad;
  for (int k = 0; k < kMaxVecs * kMaxVecs; ++k) {
    const int begin = ch.subset_begin[k], end = ch.subset_begin[k + 1];
    if (begin == end) continue;
    const int first = k / kMaxVecs, count = k % kMaxVecs + 1;
    split_even(ncols, kMaxPvCols[count], [&](int j0, int nj) {
      (exact ? kPvExact : kPv)[count - 1][nj - 1](b, ch, begin, end, first, P, B0 + (int64_t)j0 * ldb, row_stride, ldb,
                                                  j0, C);
    });
  }
}

void qk_shared(int nv, VecPtrs A, const float* K, int n, int depth, MutVecPtrs S) {
  split_even(n, kMaxQkOffsets[nv], [&](int e, int m) {
    float* s[kMaxVecs];
    for (int v = 0; v < nv; ++v) s[v] = S[v] + e * kLanes;
    kQkBcast[nv - 1][m - 1](A, K + (int64_t)e * depth, depth, s);
  });
}

void pv_shared(int nv, VecPtrs P, const float* V, int64_t ldv, int n, int ncols, MutVecPtrs C) {
  split_even(ncols, kMaxPvCols[nv], [&](int j0, int nj) { kPvShared[nv - 1][nj - 1](P, V, ldv, n, j0, C); });
}

}  // namespace natten::cpu::NATTEN_SIMD
