// The two inner kernels of the CPU engine, on 16-lane vectors whose lanes are neighbouring tokens of a
// tile. Up to four such vectors ("rows" of a block) share every load of the other side:
//   qk: S_r[o] = sum_d A_r[d] * B[d][col + o + lane]   (scores; B is a packed, transposed K/V/Q/dO row)
//   pv: C_r[j] += sum_o P_r[o] * B[j][col + o + lane]  (weighted sums of the same packed rows)
// and their broadcast variants for the additional keys/values, which every lane shares.
// Sizes are template parameters so the accumulators live in registers (at most ~28 of the 32).
#pragma once
#include <stdint.h>

#include "vec.h"

namespace natten::cpu::NATTEN_SIMD {

/// Vectors per block.
constexpr int kMaxVecs = 4;
/// Most offsets one qk call handles, by number of rows (rows x offsets accumulators fit the registers),
/// and most output columns one pv call keeps in registers, by number of rows; per SIMD level.
#if defined(__AVX512F__)
// 32 registers, one per 16-lane vector.
constexpr int kMaxQkOffsets[kMaxVecs + 1] = {0, 24, 14, 9, 7};
constexpr int kMaxPvCols[kMaxVecs + 1] = {0, 24, 13, 9, 6};
#elif defined(__AVX__)
// 16 registers, two per 16-lane vector.
constexpr int kMaxQkOffsets[kMaxVecs + 1] = {0, 6, 3, 2, 1};
constexpr int kMaxPvCols[kMaxVecs + 1] = {0, 6, 3, 2, 1};
#else
// 16 registers, four per 16-lane vector.
constexpr int kMaxQkOffsets[kMaxVecs + 1] = {0, 3, 1, 1, 1};
constexpr int kMaxPvCols[kMaxVecs + 1] = {0, 3, 1, 1, 1};
#endif
/// Most vectors one block holds at this level: more rows than the registers hold tiles of several offsets
/// for leave one offset per kernel call, whose overhead then dominates.
#if defined(__AVX512F__)
constexpr int kBlockVecs = kMaxVecs;
#elif defined(__AVX__)
constexpr int kBlockVecs = 2;
#else
constexpr int kBlockVecs = 1;
#endif
constexpr int kQkTableOffsets = 24;
constexpr int kPvTableCols = 24;
/// How many packed rows ahead the qk kernel prefetches.
constexpr int kPrefetchRows = 6;

/// S_r[o] for rows r < NR, offsets o < NO: a[r] -> A_r [depth][16], s[r] -> S_r [NO][16].
template <int NR, int NO>
NATTEN_INLINE void qk_tile(const float* const* a, const float* b, int64_t ldb, int depth, float* const* s) {
  vf acc[NR][NO];
  for (int r = 0; r < NR; ++r)
    for (int o = 0; o < NO; ++o) acc[r][o] = vzero();
  for (int d = 0; d < depth; ++d) {
    const float* bd = b + d * ldb;
    // The packed rows are ldb floats apart: fetch a few rows ahead (into the next packed row at the end).
    __builtin_prefetch(bd + kPrefetchRows * ldb);
    __builtin_prefetch(bd + kPrefetchRows * ldb + NO + kLanes - 1);
    vf q[NR];
    for (int r = 0; r < NR; ++r) q[r] = vload(a[r] + d * kLanes);
#pragma GCC unroll 24
    for (int o = 0; o < NO; ++o) {
      const vf kv = vloadu_reg(bd + o);
      for (int r = 0; r < NR; ++r) acc[r][o] = vfma(q[r], kv, acc[r][o]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int o = 0; o < NO; ++o) vstore(s[r] + o * kLanes, acc[r][o]);
}

/// S_r[e] = sum_d A_r[d] * b[e * depth + d] (every lane reads the same additional key e).
template <int NR, int NO>
NATTEN_INLINE void qk_bcast_tile(const float* const* a, const float* b, int depth, float* const* s) {
  vf acc[NR][NO];
  for (int r = 0; r < NR; ++r)
    for (int o = 0; o < NO; ++o) acc[r][o] = vzero();
  for (int d = 0; d < depth; ++d) {
    vf q[NR];
    for (int r = 0; r < NR; ++r) q[r] = vload(a[r] + d * kLanes);
#pragma GCC unroll 24
    for (int o = 0; o < NO; ++o) {
      const vf kv = vset(b[(int64_t)o * depth + d]);
      for (int r = 0; r < NR; ++r) acc[r][o] = vfma(q[r], kv, acc[r][o]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int o = 0; o < NO; ++o) vstore(s[r] + o * kLanes, acc[r][o]);
}

/// acc[F + r][j] += sum_o P_r[o] * B[j][o + lane] for rows r < C (p[r] -> P_r), columns j < NJ, o < n.
/// pf (may be null): the next call's b, whose NJ rows are prefetched along the way (the hardware stride
/// prefetcher does not follow jumps of a whole packed row).
/// Masked: only the lanes whose bit is set in lanes[r][o] accumulate (merge-masked FMAs): a (query, key)
/// pair outside the window has P = 0, and 0 * B would still turn an infinite B into a NaN accumulator.
template <int NV, int NJ, int F, int C, bool Masked = false>
NATTEN_INLINE void pv_tile(vf (&acc)[NV][NJ], const float* const* p, const float* b, int64_t ldb, int n,
                           const float* pf, const uint16_t* const* lanes = nullptr) {
  if (pf) {
    for (int j = 0; j < NJ; ++j) {
      __builtin_prefetch(pf + j * ldb);
      __builtin_prefetch(pf + j * ldb + n + kLanes - 1);
    }
  }
#pragma GCC unroll 2
  for (int o = 0; o < n; ++o) {
    vf w[C];
    [[maybe_unused]] uint32_t on[C];
    for (int r = 0; r < C; ++r) w[r] = vload(p[r] + o * kLanes);
    if constexpr (Masked)
      for (int r = 0; r < C; ++r) on[r] = lanes[r][o];
    // One pointer stepped by ldb: precomputed per-column pointers would not fit the integer registers.
    const float* bj = b + o;
#pragma GCC unroll 16
    for (int j = 0; j < NJ; ++j) {
      const vf v = vloadu_reg(bj);
      for (int r = 0; r < C; ++r) {
        if constexpr (Masked) acc[F + r][j] = vfma_lanes(w[r], v, acc[F + r][j], on[r]);
        else acc[F + r][j] = vfma(w[r], v, acc[F + r][j]);
      }
      bj += ldb;
      asm("" : "+r"(bj));
    }
  }
}

/// acc[r][j] += sum_e P_r[e] * b[e * ldb + j] for rows r < NV (additional values, shared by every lane).
template <int NV, int NJ>
NATTEN_INLINE void pv_bcast_tile(vf (&acc)[NV][NJ], const float* const* p, const float* b, int64_t ldb, int n) {
  for (int e = 0; e < n; ++e) {
    vf w[NV];
    for (int r = 0; r < NV; ++r) w[r] = vload(p[r] + e * kLanes);
#pragma GCC unroll 16
    for (int j = 0; j < NJ; ++j) {
      const vf v = vset(b[(int64_t)e * ldb + j]);
      for (int r = 0; r < NV; ++r) acc[r][j] = vfma(w[r], v, acc[r][j]);
    }
  }
}

}  // namespace natten::cpu::NATTEN_SIMD
