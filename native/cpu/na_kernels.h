// The two inner kernels of the CPU engine, on 16-lane vectors whose lanes are neighbouring tokens of a
// tile (one or two such vectors, "rows" 0 and 1, share every load of the other side):
//   qk: S[o] += sum_d A[d] * B[d][col + o + lane]   (scores; B is a packed, transposed K/V/Q/dO row)
//   pv: C[j] += sum_o P[o] * B[j][col + o + lane]   (weighted sums of the same packed rows)
// and their broadcast variants for the additional keys/values, which every lane shares.
// Sizes are template parameters so the accumulators live in registers.
#pragma once
#include <stdint.h>

#include "vec.h"

namespace natten::cpu {

/// Most offsets one qk call handles (2 rows x 14 accumulators + operands fit 32 vector registers).
constexpr int kMaxQkOffsets = 14;
/// Most output columns one pv call keeps in registers.
constexpr int kMaxPvCols = 13;
/// How many packed rows ahead the kernels prefetch.
constexpr int kPrefetchRows = 6;

template <int NO, bool R0, bool R1>
NATTEN_INLINE void qk_tile(const float* a0, const float* a1, const float* b, int64_t ldb, int depth, float* s0,
                           float* s1) {
  vf acc0[NO], acc1[NO];
  for (int o = 0; o < NO; ++o) acc0[o] = acc1[o] = vzero();
  for (int d = 0; d < depth; ++d) {
    const float* bd = b + d * ldb;
    // The packed rows are ldb floats apart: fetch a few rows ahead (into the next packed row at the end).
    __builtin_prefetch(bd + kPrefetchRows * ldb);
    __builtin_prefetch(bd + kPrefetchRows * ldb + NO + kLanes - 1);
    const vf q0 = R0 ? vload(a0 + d * kLanes) : vzero();
    const vf q1 = R1 ? vload(a1 + d * kLanes) : vzero();
#pragma GCC unroll 16
    for (int o = 0; o < NO; ++o) {
      const vf kv = vloadu_reg(bd + o);
      if (R0) acc0[o] += q0 * kv;
      if (R1) acc1[o] += q1 * kv;
    }
  }
  for (int o = 0; o < NO; ++o) {
    if (R0) vstore(s0 + o * kLanes, acc0[o]);
    if (R1) vstore(s1 + o * kLanes, acc1[o]);
  }
}

/// S[e] = sum_d A[d] * b[e * depth + d] (every lane reads the same additional key e).
template <int NO, bool R0, bool R1>
NATTEN_INLINE void qk_bcast_tile(const float* a0, const float* a1, const float* b, int depth, float* s0, float* s1) {
  vf acc0[NO], acc1[NO];
  for (int o = 0; o < NO; ++o) acc0[o] = acc1[o] = vzero();
  for (int d = 0; d < depth; ++d) {
    const vf q0 = R0 ? vload(a0 + d * kLanes) : vzero();
    const vf q1 = R1 ? vload(a1 + d * kLanes) : vzero();
#pragma GCC unroll 16
    for (int o = 0; o < NO; ++o) {
      const vf kv = vset(b[(int64_t)o * depth + d]);
      if (R0) acc0[o] += q0 * kv;
      if (R1) acc1[o] += q1 * kv;
    }
  }
  for (int o = 0; o < NO; ++o) {
    if (R0) vstore(s0 + o * kLanes, acc0[o]);
    if (R1) vstore(s1 + o * kLanes, acc1[o]);
  }
}

template <int NJ, bool R0, bool R1>
NATTEN_INLINE void pv_tile(vf* acc0, vf* acc1, const float* p0, const float* p1, const float* b, int64_t ldb, int n) {
  for (int o = 0; o < n; ++o) {
    const vf w0 = R0 ? vload(p0 + o * kLanes) : vzero();
    const vf w1 = R1 ? vload(p1 + o * kLanes) : vzero();
#pragma GCC unroll 16
    for (int j = 0; j < NJ; ++j) {
      const vf v = vloadu_reg(b + j * ldb + o);
      if (R0) acc0[j] += w0 * v;
      if (R1) acc1[j] += w1 * v;
    }
  }
}

/// C[j] += sum_e P[e] * b[e * ldb + j] (additional values, shared by every lane).
template <int NJ, bool R0, bool R1>
NATTEN_INLINE void pv_bcast_tile(vf* acc0, vf* acc1, const float* p0, const float* p1, const float* b, int64_t ldb,
                                 int n) {
  for (int e = 0; e < n; ++e) {
    const vf w0 = R0 ? vload(p0 + e * kLanes) : vzero();
    const vf w1 = R1 ? vload(p1 + e * kLanes) : vzero();
#pragma GCC unroll 16
    for (int j = 0; j < NJ; ++j) {
      const vf v = vset(b[(int64_t)e * ldb + j]);
      if (R0) acc0[j] += w0 * v;
      if (R1) acc1[j] += w1 * v;
    }
  }
}

}  // namespace natten::cpu
