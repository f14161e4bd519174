// The Q-parallel dQ kernel of the fused NA backward: used in deterministic mode, with KV parallelism off,
// or when the memory preference leaves no room for the fp32 dQ accumulator of the KV-parallel mode.
//
// A CTA owns one Q tile (64 queries, shaped like the backward KV tile) of one batch and one query head and
// walks the KV tiles covering its queries' windows (tile_kv_range), then the additional keys. Warp w owns
// query rows 16w..16w+15:
//   S  = Q K^T,  P = exp2(S * scale*log2e - LSE*log2e) (masked only on non-interior pairs)
//   dP = dO V^T, dS = P o (dP - Delta),  dQ += dS K   (dS goes from the accumulators straight to an A operand)
// one block of 16 keys at a time, with the warp's Q and dO fragments held in registers (tiers <= 64).
// dQ stays in registers, is summed in a fixed order and written once: bitwise reproducible.
// K/V tiles are double-buffered with cp.async so the next tile loads during the current one's math.
// The interior test is two compares per axis against spans computed once per CTA (interior_kv_tiles);
// a mask, when needed, is one 64-bit word per query row built from the row's (fixed) windows.
#pragma once
#include <math.h>
#include <stddef.h>
#include "fna_backward_params.h"
#include "fna_backward_tile.h"
#include "fna_backward_warp.h"

namespace natten::fused {

/// The KV walk of one CTA: window tiles of the box, then the extra-key tiles.
struct BwdDqWalk {
  GroupAxes g;
  int q0[kMaxDims];
  int kfirst[kMaxDims];
  int kn[kMaxDims];
  int ilo[kMaxDims];  // KV tile indices [ilo, ihi) per axis need no mask on that axis
  int ihi[kMaxDims];
  int64_t n_window;
  bool empty;  // the CTA's slot lies past its (ragged) dilation group
};

template <class Tag, int DMAX>
struct BwdDqSmem {
  using S = typename Tag::Storage;
  static constexpr int kRows = kBwdKvRows;  // queries per CTA (and keys per KV tile)
  static constexpr int kPitch = DMAX + 8;
  S q[kRows][kPitch];
  S dout[kRows][kPitch];
  uint64_t mask[2][kRows];  // [buffer][query row]: bit j = key row j is in the query's window
  uint32_t rows[kRows];     // packed per-axis offsets of tile rows (Q and KV tiles share the shape)
  BwdDqWalk walk;           // uniform over the CTA: kept here, not in registers
  // [buffer][K, V]: last, so a single-buffered launch leaves buffer 1 out; 16-byte aligned whatever the
  // size of the members above (cp.async and ldmatrix need it).
  alignas(16) S kv[2][2][kRows][kPitch];
  /// Bytes of dynamic shared memory for `stages` (1 or 2) KV buffers.
  static constexpr size_t bytes(int stages) { return sizeof(BwdDqSmem) - (stages == 2 ? 0 : sizeof(kv[0])); }
};
// Tiles read by cp.async (16-byte chunks) and ldmatrix (16-byte rows) must start on 16 bytes.
namespace detail {
using DqSmem32 = BwdDqSmem<F16, 32>;
using DqSmem64 = BwdDqSmem<F16, 64>;
using DqSmem128 = BwdDqSmem<F16, 128>;
static_assert(offsetof(DqSmem32, kv) % 16 == 0 && offsetof(DqSmem64, kv) % 16 == 0 &&
                  offsetof(DqSmem128, kv) % 16 == 0 && offsetof(DqSmem64, dout) % 16 == 0,
              "16-byte aligned tiles");
}  // namespace detail

/// Issues the cp.async loads of KV step `it` into buffer `buf` (whole rows per thread), fills its mask
/// when needed (thread t < 64: query row t, whose windows `win` are fixed for the CTA) and returns
/// whether the pair is interior.
template <class Tag, int DMAX>
__device__ __forceinline__ bool bwd_dq_load_kv(const BackwardParams& prm, BwdDqSmem<Tag, DMAX>& sm, const BwdDqWalk& w,
                                               int64_t b, int hk, int64_t it, int buf, bool row_ok,
                                               const Range (&win)[kMaxDims]) {
  using S = typename Tag::Storage;
  const NaProblem& p = prm.p;
  constexpr int kRows = kBwdKvRows;
  const bool extra = it >= w.n_window;
  int ko[kMaxDims] = {0, 0, 0};
  int e0 = 0;
  bool interior = true;
  if (extra) {
    e0 = (int)(it - w.n_window) * kRows;
    interior = e0 + kRows <= p.n_extra;
  } else {
    int64_t rest = it;
#pragma unroll
    for (int a = kMaxDims - 1; a >= 0; --a) {
      const int u = w.kfirst[a] + (int)(rest % w.kn[a]);
      rest /= w.kn[a];
      ko[a] = u * prm.kv_tile[a];
      interior = interior && u >= w.ilo[a] && u < w.ihi[a];
    }
  }
  const S* kbase = static_cast<const S*>(extra ? prm.extra_k : prm.k);
  const S* vbase = static_cast<const S*>(extra ? prm.extra_v : prm.v);
  const int64_t rows = extra ? p.n_extra : p.tokens();
  {
    const TileRowSlot<kRows> slot(threadIdx.x);
    const int r = slot.r;
    const int64_t tok = extra ? (e0 + r < p.n_extra ? e0 + r : -1) : w.g.row_token(p, ko, sm.rows[r]);
    cp_async_tile_row<DMAX>(p, slot, sm.kv[buf][0], sm.kv[buf][1], kbase, vbase, tok,
                            tok >= 0 ? (b * rows + tok) * p.heads_kv + hk : 0);
  }
  if (!interior && threadIdx.x < kRows) {
    uint64_t bits;
    if (extra) {
      const int valid = p.n_extra - e0;
      bits = valid >= 64 ? ~0ull : (1ull << valid) - 1;
    } else {
      bits = row_ok ? GroupAxes::window_rows(win, ko, prm.kv_tile) : 0ull;
    }
    sm.mask[buf][threadIdx.x] = bits;
  }
  return interior;
}

/// CTAs per SM the register budget aims at (what shared memory allows on sm_90).
template <int DMAX>
constexpr int bwd_dq_min_blocks() {
  return DMAX == 128 ? 2 : (DMAX == 64 ? 3 : 4);
}

template <class Tag, int DMAX>
__global__ void __launch_bounds__(kBwdThreads, bwd_dq_min_blocks<DMAX>())
    fna_backward_dq_kernel(const BackwardParams prm) {
  using S = typename Tag::Storage;
  using Smem = BwdDqSmem<Tag, DMAX>;
  static_assert(kBwdThreads == 2 * kBwdKvRows, "mask fill assumes two threads per query row");
  extern __shared__ __align__(16) unsigned char smem_raw[];
  Smem& sm = *reinterpret_cast<Smem*>(smem_raw);
  const NaProblem& p = prm.p;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int gq = lane >> 2, tq = lane & 3;
  const int h = blockIdx.y;
  const int hk = (int)p.kv_head(h);
  const int64_t b = blockIdx.z;
  const int64_t N = p.tokens();

  BwdDqWalk& w = sm.walk;
  if (tid == 0) {
    AxisSlot slot[kMaxDims];
    decode_slots_3d(p, prm.kv_tile, blockIdx.x, slot);
    w.n_window = 1;
    w.empty = false;
#pragma unroll
    for (int a = 0; a < kMaxDims; ++a) {
      w.g.ax[a] = group_axis(p.axis(a), slot[a].group);
      w.q0[a] = slot[a].origin;
      if (w.q0[a] >= w.g.ax[a].lg) {
        w.empty = true;  // empty slot of a short dilation group
        break;
      }
      const Range kr = tile_kv_range(w.g.ax[a], w.q0[a], prm.kv_tile[a]);
      w.kfirst[a] = kr.start / prm.kv_tile[a];
      w.kn[a] = ceil_div(kr.end, prm.kv_tile[a]) - w.kfirst[a];
      w.n_window *= w.kn[a];
      const Range in = interior_kv_tiles(w.g.ax[a], w.q0[a], prm.kv_tile[a], prm.kv_tile[a], w.kfirst[a], w.kn[a]);
      w.ilo[a] = in.start;
      w.ihi[a] = in.end;
    }
  }
  for (int r = tid; r < kBwdKvRows; r += kBwdThreads) sm.rows[r] = pack_tile_row(r, prm.kv_tile);
  __syncthreads();
  if (w.empty) return;
  const int64_t n_it = w.n_window + (p.n_extra + kBwdKvRows - 1) / kBwdKvRows;

  // Q and dO of the tile (whole rows per thread), in the first cp.async group with the first KV tile.
  {
    const TileRowSlot<kBwdKvRows> slot(tid);
    const int64_t tok = w.g.row_token(p, w.q0, sm.rows[slot.r]);
    cp_async_tile_row<DMAX>(p, slot, sm.q, sm.dout, static_cast<const S*>(prm.q), static_cast<const S*>(prm.d_out), tok,
                            tok >= 0 ? (b * N + tok) * p.heads + h : 0);
  }
  // Query row tid (< 64): its windows are fixed for the whole walk; the masks are built from them.
  Range win[kMaxDims];
  bool row_ok = false;
  if (tid < kBwdKvRows) {
    int c[kMaxDims];
    tile_row_coords(w.q0, sm.rows[tid], c);
    row_ok = w.g.windows(c, win);
  }
  // This thread's two query rows: LSE (as log2) and Delta stay in registers for the whole walk.
  const int r0 = 16 * warp + gq;
  int64_t tok_r[2];
  float lse2_r[2], delta_r[2];
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    tok_r[half] = w.g.row_token(p, w.q0, sm.rows[r0 + 8 * half]);
    lse2_r[half] = INFINITY;
    delta_r[half] = 0.f;
    if (tok_r[half] >= 0) {
      const int64_t row = (b * N + tok_r[half]) * p.heads + h;
      const float l = prm.lse[row];
      lse2_r[half] = l == -INFINITY ? INFINITY : l * kLog2e;
      delta_r[half] = prm.delta[row];
    }
  }

  bool next_interior = true;
  if (n_it > 0) next_interior = bwd_dq_load_kv<Tag, DMAX>(prm, sm, w, b, hk, 0, 0, row_ok, win);
  cp_async_commit();

  constexpr int kND = DMAX / 8;
  float dq[kND][4];
  zero_frags(dq);
  const LdmOffsets oa = ldm_a_offsets(lane), ob = ldm_b_offsets(lane);
  const Tag tag;
  // The warp's Q and dO rows as A operands, kept in registers where they fit (head-dim tiers up to 64).
  constexpr bool kQInRegs = DMAX <= 64;
  uint32_t qfrag[kQInRegs ? DMAX / 16 : 1][4], ofrag[kQInRegs ? DMAX / 16 : 1][4];

  // Two stages: tile it+1 loads while tile it computes. One stage (small shared memory, e.g. sm_86 at
  // head dim 128): tile it+1 loads after tile it's math.
  const bool two = prm.dq_stages == 2;
  for (int64_t it = 0; it < n_it; ++it) {
    const int buf = two ? (int)(it & 1) : 0;
    cp_async_wait<0>();
    __syncthreads();  // step it has landed; every warp is done with step it-1 (whose buffer step it+1 gets)
    const bool interior = next_interior;
    if (kQInRegs && it == 0) {
#pragma unroll
      for (int ks = 0; ks < DMAX / 16; ++ks) {
        ldmatrix_x4(qfrag[ks], smem_addr(&sm.q[16 * warp + oa.row][16 * ks + oa.col]));
        ldmatrix_x4(ofrag[ks], smem_addr(&sm.dout[16 * warp + oa.row][16 * ks + oa.col]));
      }
    }
    if (two && it + 1 < n_it)
      next_interior = bwd_dq_load_kv<Tag, DMAX>(prm, sm, w, b, hk, it + 1, buf ^ 1, row_ok, win);
    cp_async_commit();

    uint64_t m[2] = {~0ull, ~0ull};  // key-row masks of this thread's query rows r0, r0 + 8
    if (!interior) {
      m[0] = sm.mask[buf][r0];
      m[1] = sm.mask[buf][r0 + 8];
    }
    // Per block of 16 keys: S and dP, then P and dS, then dQ += dS K (short live ranges).
#pragma unroll 1
    for (int nk = 0; nk < kBwdKvRows / 16; ++nk) {
      float s[2][4], dp[2][4];
      mma_s_dp<DMAX, kQInRegs, kQInRegs>(tag, s, dp, qfrag, ofrag, sm.q + 16 * warp, sm.dout + 16 * warp,
                                         sm.kv[buf][0] + 16 * nk, sm.kv[buf][1] + 16 * nk, oa, ob);
#pragma unroll
      for (int h8 = 0; h8 < 2; ++h8) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int half = e >> 1;  // c0,c1: row r0; c2,c3: row r0 + 8
          const int c = 16 * nk + 8 * h8 + 2 * tq + (e & 1);
          float pv = exp2_approx(fmaf(s[h8][e], prm.scale_log2, -lse2_r[half]));
          if (!((m[half] >> c) & 1u)) pv = 0.f;
          dp[h8][e] = pv * (dp[h8][e] - delta_r[half]);
        }
      }
      uint32_t a[4];
      pack_a_from_c(tag, a, dp[0], dp[1]);
#pragma unroll
      for (int nd = 0; nd < DMAX / 16; ++nd) {
        uint32_t bk[4];
        ldmatrix_x4_trans(bk, smem_addr(&sm.kv[buf][0][16 * nk + oa.row][16 * nd + oa.col]));
        mma_16816_x2(tag, dq[2 * nd], dq[2 * nd + 1], a, bk);
      }
    }
    if (!two && it + 1 < n_it) {
      __syncthreads();  // every warp is done with the one buffer
      next_interior = bwd_dq_load_kv<Tag, DMAX>(prm, sm, w, b, hk, it + 1, 0, row_ok, win);
      cp_async_commit();
    }
  }
  cp_async_wait<0>();

#pragma unroll
  for (int half = 0; half < 2; ++half) {
    if (tok_r[half] < 0) continue;
    S* out = static_cast<S*>(prm.dq) + row_offset(b, tok_r[half], N, p.heads, h, p.head_dim);
#pragma unroll
    for (int nb = 0; nb < kND; ++nb) {
      const int d = 8 * nb + 2 * tq;
      if (d < p.head_dim)
        *reinterpret_cast<uint32_t*>(out + d) =
            pack2(tag, dq[nb][2 * half] * prm.scale, dq[nb][2 * half + 1] * prm.scale);
    }
  }
}

}  // namespace natten::fused
