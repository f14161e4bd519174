// Building blocks of the reference (on-GPU oracle) kernels: one warp per output row, a lane-strided cache
// of one input row in registers, warp-reduced dot products and the visit of a query's keys. Simple and
// obviously right; every dot product and softmax statistic is fp32.
#pragma once
#include <stdint.h>

#include "axes3.cuh"
#include "element.cuh"

namespace natten::reference {

using cuda::ld;
using cuda::st;

constexpr int kWarpSize = 32;
/// Elements of a row a lane keeps in registers: lane + 32 * i for i < kLaneRegs (rows up to 256 wide are
/// fully cached; wider rows read the rest from global memory, and outputs wider than this are produced
/// in column chunks of kChunk).
constexpr int kLaneRegs = 8;
constexpr int kChunk = kLaneRegs * kWarpSize;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

/// A lane's slice of one row: elements lane, lane + 32, ... below kChunk.
struct LaneRow {
  float r[kLaneRegs];

  template <typename T>
  __device__ __forceinline__ void load(const T* row, int64_t n, int lane) {
#pragma unroll
    for (int i = 0; i < kLaneRegs; ++i) {
      const int64_t c = lane + kWarpSize * i;
      r[i] = c < n ? ld(row + c) : 0.f;
    }
  }
};

/// Warp-reduced dot product of `row` (cached in `a`) with `other`, both n wide; every lane gets the sum.
template <typename T>
__device__ __forceinline__ float warp_dot(const LaneRow& a, const T* row, const T* other, int64_t n, int lane) {
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < kLaneRegs; ++i) {
    const int64_t c = lane + kWarpSize * i;
    if (c < n) s += a.r[i] * ld(other + c);
  }
  for (int64_t c = lane + kChunk; c < n; c += kWarpSize) s += ld(row + c) * ld(other + c);
  return warp_sum(s);
}

/// A warp's row of a [batch, tokens, heads] set of rows (one warp per row): row index, lane, batch, token,
/// head, and the token's global coordinates.
struct WarpRow {
  int64_t row;
  int lane;
  int64_t b;
  int64_t token;
  int64_t head;
  int x[3];
};

/// The row of warp threadIdx.x / 32 of CTA blockIdx.x (kWarps warps per CTA) among the batch * tokens * heads
/// rows of p; false for a warp past the last row.
template <int kWarps>
__device__ __forceinline__ bool locate_warp_row(const NaProblem& p, int64_t heads, WarpRow& w) {
  const int64_t rows = p.batch * p.tokens() * heads;
  w.row = (int64_t)blockIdx.x * kWarps + threadIdx.x / kWarpSize;
  if (w.row >= rows) return false;
  w.lane = threadIdx.x % kWarpSize;
  const int64_t n = p.tokens();
  w.head = w.row % heads;
  w.token = (w.row / heads) % n;
  w.b = w.row / (heads * n);
  cuda::coords_of(p, w.token, w.x);
  return true;
}

/// The window of the query at global coordinates x: dilation group and group-local key range per axis.
struct QueryWindow {
  int group[3];
  Range range[3];

  __device__ __forceinline__ QueryWindow(const NaProblem& p, const int x[3]) {
#pragma unroll
    for (int a = 0; a < 3; ++a) {
      group[a] = x[a] % p.dilation[a];
      range[a] = cuda::group_window(p, a, group[a], x[a] / p.dilation[a]);
    }
  }
};

/// Calls f(kv_row) for every window key of a query (row index of the [B, N, H_kv] K/V rows), then
/// f_extra(extra_row) for every additional key (row index of the [B, n_extra, H_kv] rows).
template <typename F, typename FExtra>
__device__ __forceinline__ void visit_keys(const NaProblem& p, const QueryWindow& w, int64_t b, int64_t hk, F&& f,
                                           FExtra&& f_extra) {
  const int64_t n = p.tokens();
  for (int j0 = w.range[0].start; j0 < w.range[0].end; ++j0)
    for (int j1 = w.range[1].start; j1 < w.range[1].end; ++j1)
      for (int j2 = w.range[2].start; j2 < w.range[2].end; ++j2) {
        const int64_t token = cuda::token_of(p, j0 * p.dilation[0] + w.group[0], j1 * p.dilation[1] + w.group[1],
                                             j2 * p.dilation[2] + w.group[2]);
        f((b * n + token) * p.heads_kv + hk);
      }
  for (int64_t e = 0; e < p.n_extra; ++e) f_extra((b * p.n_extra + e) * p.heads_kv + hk);
}

}  // namespace natten::reference
