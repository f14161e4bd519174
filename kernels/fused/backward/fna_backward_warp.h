// Building blocks shared by the two fused backward kernels (fna_backward_kv.h, fna_backward_dq.h): the
// cp.async load of a tile's rows of two tensors, and the warp-level mma.sync steps both kernels run on a
// 16 x 16 block (zeroed accumulators, a pair of n8 products from one x4 B load, S and dP over the head dim).
// Every function is __forceinline__: the kernels compile to what they were with the code written out.
#pragma once
#include <stdint.h>
#include "../../runtime/sm80_mma.h"
#include "fna_backward_params.h"
#include "fna_backward_tile.h"

namespace natten::fused {

/// The row of a ROWS-row tile that thread `tid` loads (kBwdThreads / ROWS threads per row) and its place
/// among that row's threads.
template <int ROWS>
struct TileRowSlot {
  static constexpr int kTpr = kBwdThreads / ROWS;  // threads per row
  int r;
  int sub;
  /// `tid`: threadIdx.x (unsigned) or a copy of it as an int; the division is done in that type.
  template <class Tid>
  __device__ __forceinline__ explicit TileRowSlot(Tid tid) : r(tid / kTpr), sub(tid % kTpr) {}
};

/// cp.async of this thread's chunks of one tile row of two tensors (whole rows per kTpr threads, interleaved
/// 16-byte chunks): row `row` of a ([.., p.head_dim], into a_dst) and of b ([.., p.head_dim_v], into b_dst). For a
/// padding row (`tok` < 0, `row` 0) and past a tensor's dim the chunks are zero-filled without reading global memory.
template <int DMAX, int ROWS, int P, class S>
__device__ __forceinline__ void cp_async_tile_row(const NaProblem& p, const TileRowSlot<ROWS>& slot,
                                                  S (&a_dst)[ROWS][P], S (&b_dst)[ROWS][P], const S* a, const S* b,
                                                  int64_t tok, int64_t row) {
  constexpr int kTpr = TileRowSlot<ROWS>::kTpr;
  constexpr int kCpt = DMAX / 8 / kTpr;  // 16-byte chunks per thread per tensor
  const S* arow = a + row * p.head_dim;
  const S* brow = b + row * p.head_dim_v;
#pragma unroll
  for (int i = 0; i < kCpt; ++i) {
    const int c = slot.sub + kTpr * i;
    const bool ain = tok >= 0 && c * 8 < p.head_dim, bin = tok >= 0 && c * 8 < p.head_dim_v;
    const S* asrc = arow + c * 8;
    const S* bsrc = brow + c * 8;
    cp_async_16(smem_addr(&a_dst[slot.r][c * 8]), ain ? asrc : a, ain);
    cp_async_16(smem_addr(&b_dst[slot.r][c * 8]), bin ? bsrc : b, bin);
  }
}

/// Zeroes N mma accumulator fragments.
template <int N>
__device__ __forceinline__ void zero_frags(float (&c)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) c[i][j] = 0.f;
}

/// c0 += a * (b[0], b[1]) and c1 += a * (b[2], b[3]): the two n8 blocks of one ldmatrix x4 B load.
template <class Tag>
__device__ __forceinline__ void mma_16816_x2(Tag tag, float (&c0)[4], float (&c1)[4], const uint32_t (&a)[4],
                                             const uint32_t (&b)[4]) {
  const uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
  mma_16816(tag, c0, a, b0);
  mma_16816(tag, c1, a, b1);
}

/// The A operand of k-step ks of a warp's 16 rows: from the registers `regs` (IN_REGS) or by ldmatrix from
/// the shared tile whose row 0 is the warp's first row.
template <bool IN_REGS, int NREG, class S, int P>
__device__ __forceinline__ void a_frag(uint32_t (&a)[4], const uint32_t (&regs)[NREG][4], const S (*rows)[P], int ks,
                                       LdmOffsets oa) {
  if constexpr (IN_REGS) {
#pragma unroll
    for (int i = 0; i < 4; ++i) a[i] = regs[ks][i];
  } else {
    ldmatrix_x4(a, smem_addr(&rows[oa.row][16 * ks + oa.col]));
  }
}

/// The S and dP steps of a 16 x 16 block, over the head dim (DMAX / 16 k-steps), zeroing s and dp first:
///   s  = A1 B1^T,  dp = A2 B2^T
/// with A1, A2 the warp's 16 rows (a_frag: registers or shared memory, first row a1 / a2) and B1, B2 16
/// rows of n-major shared tiles (first row b1 / b2, read without .trans).
template <int DMAX, bool A1_REGS, bool A2_REGS, class Tag, int N1, int N2, class S, int PA, int PB>
__device__ __forceinline__ void mma_s_dp(Tag tag, float (&s)[2][4], float (&dp)[2][4], const uint32_t (&a1_regs)[N1][4],
                                         const uint32_t (&a2_regs)[N2][4], const S (*a1)[PA], const S (*a2)[PA],
                                         const S (*b1)[PB], const S (*b2)[PB], LdmOffsets oa, LdmOffsets ob) {
  zero_frags(s);
  zero_frags(dp);
#pragma unroll
  for (int ks = 0; ks < DMAX / 16; ++ks) {
    uint32_t x1[4], x2[4];
    a_frag<A1_REGS>(x1, a1_regs, a1, ks, oa);
    a_frag<A2_REGS>(x2, a2_regs, a2, ks, oa);
    uint32_t y1[4], y2[4];
    ldmatrix_x4(y1, smem_addr(&b1[ob.row][16 * ks + ob.col]));
    ldmatrix_x4(y2, smem_addr(&b2[ob.row][16 * ks + ob.col]));
    mma_16816_x2(tag, s[0], s[1], x1, y1);
    mma_16816_x2(tag, dp[0], dp[1], x2, y2);
  }
}

}  // namespace natten::fused
