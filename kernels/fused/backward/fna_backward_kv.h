// The KV-parallel main kernel of the fused NA backward (sm_80+, mma.sync m16n8k16, fp32 accumulation).
//
// A CTA owns one KV tile (64 keys, a multi-dimensional box inside one dilation group) of one batch and
// one KV head. It keeps dK and dV of its keys in registers and walks, for every query head sharing the
// KV head (GQA), the box of Q tiles whose windows touch the KV tile (tile_q_range: the inverse window).
// Per Q tile (BQ queries) and warp w (key rows 16w..16w+15), all in the transposed, key-major view:
//   S^T  = K Q^T                       (A = K from smem, B = Q from smem)
//   P^T  = exp2(S^T * scale*log2e - LSE*log2e)   masked only when the tile pair is not interior
//   dP^T = V dO^T
//   dS^T = P^T o (dP^T - Delta)
//   dV  += P^T dO,  dK += dS^T Q       (A = P^T / dS^T straight from the accumulators)
//   dQ  += dS K  (KV-parallel mode): dS^T goes through shared memory so each warp can contract over all
//          64 keys, and the fp32 result is added to global scratch with atomics (order not fixed).
// In deterministic / Q-parallel mode (dq_acc == null) the dQ step is skipped; fna_backward_dq.h does it.
//
// The same kernel runs the extra-KV pass (extra = 1): the KV tile is 64 additional keys, which every
// query sees, so the walk is over plain chunks of BQ flattened tokens (a slice of them per CTA), no
// window masks, and dK/dV go to fp32 partial sums reduced afterwards in a fixed order.
//
// Padding rows (past a group's end, past n_extra) are zero-filled by cp.async; padded queries get
// LSE = +inf (P = 0), padded keys are masked, so neither contributes.
//
// Per Q tile the scalar work stays small: each thread loads whole rows (one token lookup per thread),
// the interior test is two compares per axis against spans computed once per CTA (interior_q_tiles),
// and a mask, when needed, is one 64-bit word per query row built from per-axis bit runs. The next Q
// tile's cp.async copies run during the current tile's math (two buffers, two barriers per tile).
#pragma once
#include <math.h>
#include <stddef.h>
#include "fna_backward_params.h"
#include "fna_backward_tile.h"
#include "fna_backward_walk.h"
#include "fna_backward_warp.h"

namespace natten::fused {

template <class Tag, int DMAX, int BQ>
struct BwdKvSmem {
  using S = typename Tag::Storage;
  static constexpr int kPitch = DMAX + 8;  // +16 bytes per row: ldmatrix rows hit distinct banks
  static constexpr int kDsPitch = BQ + 8;
  S k[kBwdKvRows][kPitch];
  S v[kBwdKvRows][kPitch];
  S q[2][BQ][kPitch];
  S dout[2][BQ][kPitch];
  S ds[kBwdKvRows][kDsPitch];  // dS^T of the current pair (KV-parallel dQ only)
  float4 ld[2][BQ / 2];        // per query pair (c, c+1): LSE, Delta of c, LSE, Delta of c + 1 (0 on padding)
  uint32_t mask[2][2][BQ];     // [buffer][key rows 0-31 / 32-63][query row]
  int64_t qtok[2][BQ];         // token of each query row, -1 for padding
  uint32_t rowq[BQ];           // packed per-axis offsets of Q tile rows
  uint32_t rowk[kBwdKvRows];   // and of KV tile rows
  BwdKvWalk walk;
};
// Tiles read by cp.async (16-byte chunks) and ldmatrix (16-byte rows) must start on 16 bytes.
namespace detail {
using KvSmem32 = BwdKvSmem<F16, 32, 64>;
using KvSmem64 = BwdKvSmem<F16, 64, 64>;
using KvSmem128 = BwdKvSmem<F16, 128, 32>;
static_assert(offsetof(KvSmem32, ds) % 16 == 0 && offsetof(KvSmem64, ds) % 16 == 0 &&
                  offsetof(KvSmem128, ds) % 16 == 0 && offsetof(KvSmem128, dout) % 16 == 0 &&
                  offsetof(KvSmem64, ld) % 16 == 0,
              "16-byte aligned tiles");
}  // namespace detail

/// cp.async of the CTA's KV tile (window keys or extra keys) into sm.k / sm.v, whole rows per thread.
template <class Tag, int DMAX, int BQ>
__device__ __forceinline__ void bwd_kv_load_kv(const BackwardParams& prm, BwdKvSmem<Tag, DMAX, BQ>& sm,
                                               const BwdKvWalk& w, int64_t b, int hk, bool extra) {
  using S = typename Tag::Storage;
  const NaProblem& p = prm.p;
  const TileRowSlot<kBwdKvRows> slot(threadIdx.x);
  const int r = slot.r;
  const S* kbase = static_cast<const S*>(extra ? prm.extra_k : prm.k);
  const S* vbase = static_cast<const S*>(extra ? prm.extra_v : prm.v);
  const int64_t rows = extra ? p.n_extra : p.tokens();
  const int64_t tok = extra ? (w.k0[0] + r < p.n_extra ? w.k0[0] + r : -1) : w.g.row_token(p, w.k0, sm.rowk[r]);
  cp_async_tile_row<DMAX>(p, slot, sm.k, sm.v, kbase, vbase, tok, tok >= 0 ? (b * rows + tok) * p.heads_kv + hk : 0);
}

/// Per-iteration state handed from the load of a Q tile to its compute.
struct BwdKvStep {
  int h;
  bool interior;
};

/// Starts the loads of walk step `it` into buffer `buf`: cp.async of Q, dO, LSE and Delta, the row tokens
/// and the mask (non-interior pairs only).
template <class Tag, int DMAX, int BQ>
__device__ __forceinline__ BwdKvStep bwd_kv_load_q(const BackwardParams& prm, BwdKvSmem<Tag, DMAX, BQ>& sm,
                                                   const BwdKvWalk& w, int64_t b, int hk, bool extra, int64_t it,
                                                   int buf) {
  using S = typename Tag::Storage;
  const NaProblem& p = prm.p;
  BwdKvCursor cur;
  cur.seek(prm, w, it);
  const BwdKvStepAt at = cur.at(prm, w, extra, BQ, kBwdKvRows);
  BwdKvStep st{at.h, at.interior};
  const int(&qo)[kMaxDims] = at.qo;
  const int64_t tok0 = at.tok0;  // extra pass: first token of the chunk
  const int64_t N = p.tokens();

  // Q and dO rows: kTpr threads per row, interleaved 16-byte chunks.
  {
    const TileRowSlot<BQ> slot(threadIdx.x);
    const int r = slot.r;
    const int64_t tok = extra ? (tok0 + r < N ? tok0 + r : -1) : w.g.row_token(p, qo, sm.rowq[r]);
    cp_async_tile_row<DMAX>(p, slot, sm.q[buf], sm.dout[buf], static_cast<const S*>(prm.q),
                            static_cast<const S*>(prm.d_out), tok, tok >= 0 ? (b * N + tok) * p.heads + st.h : 0);
  }

  // Row t = threadIdx.x: token, LSE, Delta and (when needed) the mask over the KV tile's rows. Padding
  // rows get LSE = Delta = 0 (zero-fill): with Q = dO = 0 there, P = 1 but every product with it is 0.
  const int t = threadIdx.x;
  if (t < BQ) {
    int64_t tok;
    uint64_t bits = ~0ull;
    if (extra) {
      tok = tok0 + t < N ? tok0 + t : -1;
      const int valid = (int)(p.n_extra - w.k0[0]);  // extra keys of this tile that exist
      if (valid < 64) bits = (1ull << valid) - 1;
    } else {
      int c[kMaxDims];
      tile_row_coords(qo, sm.rowq[t], c);
      tok = w.g.token(p, c);
      if (!st.interior) {
        Range win[kMaxDims];
        bits = w.g.windows(c, win) ? GroupAxes::window_rows(win, w.k0, prm.kv_tile) : 0ull;
      }
    }
    sm.qtok[buf][t] = tok;
    if (!st.interior) {
      sm.mask[buf][0][t] = (uint32_t)bits;
      sm.mask[buf][1][t] = (uint32_t)(bits >> 32);
    }
    const int64_t row = tok >= 0 ? (b * N + tok) * p.heads + st.h : 0;
    float* ld = reinterpret_cast<float*>(&sm.ld[buf][t / 2]) + 2 * (t & 1);
    cp_async_4(smem_addr(ld), prm.lse + row, tok >= 0);
    cp_async_4(smem_addr(ld + 1), prm.delta + row, tok >= 0);
  }
  return st;
}

/// Adds two fp32 values to consecutive global addresses (8-byte aligned) without reading them back.
__device__ __forceinline__ void red_add2(float* addr, float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("red.global.add.v2.f32 [%0], {%1, %2};\n" ::"l"(addr), "f"(a), "f"(b) : "memory");
#else
  atomicAdd(addr, a);
  atomicAdd(addr + 1, b);
#endif
}

/// CTAs per SM the register budget aims at (shared memory allows them on sm_80/sm_90).
template <int DMAX>
constexpr int bwd_kv_min_blocks() {
  return DMAX == 128 ? 2 : (DMAX == 64 ? 3 : 4);
}

template <class Tag, int DMAX, int BQ>
__global__ void __launch_bounds__(kBwdThreads, bwd_kv_min_blocks<DMAX>())
    fna_backward_kv_kernel(const BackwardParams prm, int extra) {
  using S = typename Tag::Storage;
  using Smem = BwdKvSmem<Tag, DMAX, BQ>;
  static_assert(BQ == 32 || BQ == 64, "Q tile rows");
  extern __shared__ __align__(16) unsigned char smem_raw[];
  Smem& sm = *reinterpret_cast<Smem*>(smem_raw);
  const NaProblem& p = prm.p;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int gq = lane >> 2, tq = lane & 3;  // mma fragment group / thread-in-group
  const int hk = blockIdx.y;
  const int64_t b = blockIdx.z;
  const int group_heads = (int)(p.heads / p.heads_kv);

  // ---- what this CTA walks (the first warp decides, everyone reads it from shared memory) -------------
  BwdKvWalk& w = sm.walk;
  if (tid < 32) BwdKvWalk::init_by_first_warp(w, prm, extra, blockIdx.x, BQ, kBwdKvRows);
  for (int r = tid; r < BQ; r += kBwdThreads) sm.rowq[r] = pack_tile_row(r, prm.q_tile);
  for (int r = tid; r < kBwdKvRows; r += kBwdThreads) sm.rowk[r] = pack_tile_row(r, prm.kv_tile);
  __syncthreads();
  if (w.empty) return;
  const int64_t n_it = w.per_head * group_heads;

  bwd_kv_load_kv<Tag, DMAX, BQ>(prm, sm, w, b, hk, extra);
  BwdKvStep next{0, true};
  if (n_it > 0) next = bwd_kv_load_q<Tag, DMAX, BQ>(prm, sm, w, b, hk, extra, 0, 0);
  cp_async_commit();

  constexpr int kND = DMAX / 8;  // n8 blocks of head dim in dK/dV
  float dk[kND][4], dv[kND][4];
  zero_frags(dk);
  zero_frags(dv);

  const LdmOffsets oa = ldm_a_offsets(lane), ob = ldm_b_offsets(lane);
  const int r0 = 16 * warp + gq;  // this thread's key rows r0 and r0 + 8
  const Tag tag;
  // The warp's K (and V) rows as A operands: loaded once and kept in registers where they fit (K and V
  // at head-dim tier 32, K at 64); otherwise read from shared memory per use.
  constexpr bool kKInRegs = DMAX <= 64, kVInRegs = DMAX <= 32;
  uint32_t kfrag[kKInRegs ? DMAX / 16 : 1][4], vfrag[kVInRegs ? DMAX / 16 : 1][4];

  for (int64_t it = 0; it < n_it; ++it) {
    const int buf = (int)(it & 1);
    // Step it's data has landed and every warp is done with step it-1 (whose buffer gets step it+1).
    cp_async_wait<0>();
    __syncthreads();
    const BwdKvStep cur = next;
    if (it == 0) {
#pragma unroll
      for (int ks = 0; ks < DMAX / 16; ++ks) {
        if constexpr (kKInRegs) ldmatrix_x4(kfrag[ks], smem_addr(&sm.k[16 * warp + oa.row][16 * ks + oa.col]));
        if constexpr (kVInRegs) ldmatrix_x4(vfrag[ks], smem_addr(&sm.v[16 * warp + oa.row][16 * ks + oa.col]));
      }
    }
    if (it + 1 < n_it) next = bwd_kv_load_q<Tag, DMAX, BQ>(prm, sm, w, b, hk, extra, it + 1, buf ^ 1);
    cp_async_commit();

    // ---- per block of 16 queries: S^T, dP^T, then P^T, dS^T, then dV, dK (short live ranges) ---------
    const int sh0 = r0 & 31, sh1 = (r0 + 8) & 31;
    const bool want_ds = prm.dq_acc != nullptr;
#pragma unroll 1
    for (int np = 0; np < BQ / 16; ++np) {
      // S^T = K Q^T and dP^T = V dO^T for queries 16np..16np+15 (two n8 blocks).
      float s[2][4], dp[2][4];
      mma_s_dp<DMAX, kKInRegs, kVInRegs>(tag, s, dp, kfrag, vfrag, sm.k + 16 * warp, sm.v + 16 * warp,
                                         sm.q[buf] + 16 * np, sm.dout[buf] + 16 * np, oa, ob);

      // P^T and dS^T in place; this thread's query columns are c, c + 1 of each n8 block.
#pragma unroll
      for (int h8 = 0; h8 < 2; ++h8) {
        const int c = 16 * np + 8 * h8 + 2 * tq;
        const float4 ld = sm.ld[buf][c / 2];
        uint2 m = make_uint2(~0u, ~0u);
        if (!cur.interior) m = *reinterpret_cast<const uint2*>(&sm.mask[buf][warp >> 1][c]);
        const float l2[2] = {ld.x * kLog2e, ld.z * kLog2e}, dl[2] = {ld.y, ld.w};
        const uint32_t mm[2] = {m.x, m.y};
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float p0 = exp2_approx(fmaf(s[h8][e], prm.scale_log2, -l2[e]));
          float p1 = exp2_approx(fmaf(s[h8][2 + e], prm.scale_log2, -l2[e]));
          if (!((mm[e] >> sh0) & 1u)) p0 = 0.f;
          if (!((mm[e] >> sh1) & 1u)) p1 = 0.f;
          s[h8][e] = p0;
          s[h8][2 + e] = p1;
          dp[h8][e] = p0 * (dp[h8][e] - dl[e]);
          dp[h8][2 + e] = p1 * (dp[h8][2 + e] - dl[e]);
        }
        if (want_ds) {  // dS^T for the dQ step below
          *reinterpret_cast<uint32_t*>(&sm.ds[r0][c]) = pack2(tag, dp[h8][0], dp[h8][1]);
          *reinterpret_cast<uint32_t*>(&sm.ds[r0 + 8][c]) = pack2(tag, dp[h8][2], dp[h8][3]);
        }
      }

      // dV += P^T dO, dK += dS^T Q over these 16 queries (one k-step).
      uint32_t ap[4], ad[4];
      pack_a_from_c(tag, ap, s[0], s[1]);
      pack_a_from_c(tag, ad, dp[0], dp[1]);
#pragma unroll
      for (int nd = 0; nd < DMAX / 16; ++nd) {
        uint32_t bo[4], bq[4];
        ldmatrix_x4_trans(bo, smem_addr(&sm.dout[buf][16 * np + oa.row][16 * nd + oa.col]));
        ldmatrix_x4_trans(bq, smem_addr(&sm.q[buf][16 * np + oa.row][16 * nd + oa.col]));
        mma_16816_x2(tag, dv[2 * nd], dv[2 * nd + 1], ap, bo);
        mma_16816_x2(tag, dk[2 * nd], dk[2 * nd + 1], ad, bq);
      }
    }

    // ---- dQ += dS K through shared memory and fp32 atomics (KV-parallel mode) --------------------------
    if (want_ds) {
      __syncthreads();
      constexpr int kQB = BQ / 16;     // 16-query row blocks
      constexpr int kDP = 4 / kQB;     // warps sharing a row block split the head dim
      constexpr int kDW = DMAX / kDP;  // head-dim columns per warp
      const int qb = warp % kQB, d0 = (warp / kQB) * kDW;
      float acc[kDW / 8][4];
      zero_frags(acc);
#pragma unroll
      for (int j = 0; j < kBwdKvRows / 16; ++j) {
        uint32_t a[4];
        ldmatrix_x4_trans(a, smem_addr(&sm.ds[16 * j + ob.row][16 * qb + ob.col]));
#pragma unroll
        for (int np = 0; np < kDW / 16; ++np) {
          uint32_t bk[4];
          ldmatrix_x4_trans(bk, smem_addr(&sm.k[16 * j + oa.row][d0 + 16 * np + oa.col]));
          mma_16816_x2(tag, acc[2 * np], acc[2 * np + 1], a, bk);
        }
      }
      const int64_t N = p.tokens();
      const int64_t t0 = sm.qtok[buf][16 * qb + gq], t1 = sm.qtok[buf][16 * qb + gq + 8];
      float* row0 = t0 >= 0 ? prm.dq_acc + row_offset(b, t0, N, p.heads, cur.h, p.head_dim) : nullptr;
      float* row1 = t1 >= 0 ? prm.dq_acc + row_offset(b, t1, N, p.heads, cur.h, p.head_dim) : nullptr;
#pragma unroll
      for (int nb = 0; nb < kDW / 8; ++nb) {
        const int d = d0 + 8 * nb + 2 * tq;
        if (d < p.head_dim) {
          if (row0) red_add2(row0 + d, acc[nb][0], acc[nb][1]);
          if (row1) red_add2(row1 + d, acc[nb][2], acc[nb][3]);
        }
      }
    }
  }
  cp_async_wait<0>();

  // ---- write dK (scaled) and dV of this thread's two key rows ------------------------------------------
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int r = r0 + 8 * half;
    if (extra) {
      const int64_t e = w.k0[0] + r;
      if (e >= p.n_extra) continue;
      const int split = blockIdx.x % prm.extra_splits;
      const int64_t rowk = ((split * p.batch + b) * p.n_extra + e) * p.heads_kv + hk;
      float* pk = prm.dk_extra_part + rowk * p.head_dim;
      float* pv = prm.dv_extra_part + rowk * p.head_dim_v;
#pragma unroll
      for (int nb = 0; nb < kND; ++nb) {
        const int d = 8 * nb + 2 * tq;
        if (d < p.head_dim)
          *reinterpret_cast<float2*>(pk + d) =
              make_float2(dk[nb][2 * half] * prm.scale, dk[nb][2 * half + 1] * prm.scale);
        if (d < p.head_dim_v) *reinterpret_cast<float2*>(pv + d) = make_float2(dv[nb][2 * half], dv[nb][2 * half + 1]);
      }
    } else {
      const int64_t tok = w.g.row_token(p, w.k0, sm.rowk[r]);
      if (tok < 0) continue;
      const int64_t N = p.tokens();
      S* pk = static_cast<S*>(prm.dk) + row_offset(b, tok, N, p.heads_kv, hk, p.head_dim);
      S* pv = static_cast<S*>(prm.dv) + row_offset(b, tok, N, p.heads_kv, hk, p.head_dim_v);
#pragma unroll
      for (int nb = 0; nb < kND; ++nb) {
        const int d = 8 * nb + 2 * tq;
        if (d < p.head_dim)
          *reinterpret_cast<uint32_t*>(pk + d) =
              pack2(tag, dk[nb][2 * half] * prm.scale, dk[nb][2 * half + 1] * prm.scale);
        if (d < p.head_dim_v) *reinterpret_cast<uint32_t*>(pv + d) = pack2(tag, dv[nb][2 * half], dv[nb][2 * half + 1]);
      }
    }
  }
}

}  // namespace natten::fused
