// Producer warpgroup of the sm_90a wgmma backward (fna_backward_wgmma_smem.h has the plan): loads the CTA's
// KV tile once, then per step of the walk (fna_backward_walk.h) the Q tile's Q and dO rows, LSE and Delta
// (cp.async into the ring stage, zero-filled on padding rows and past the head dims), the query tokens
// and, on pairs that are not interior, each consumer half's element masks (one 64-bit word per query row
// over the half's 64 key rows: GroupAxes::window_rows, the mma backward's masks).
//
// Q and dO: one thread issues TMA bulk tensor copies of the Q tile where the maps describe the problem
// (fna_backward_wgmma_tma.h: window pass, dilation 1); otherwise the 128 threads copy rows with cp.async,
// whatever the tile shape, dilation or extra-KV chunk (every access the walk makes is a token lookup per
// row). The KV tile, LSE, Delta, tokens and masks always go row by row. Each producer thread arrives twice
// on the stage's full barrier: once through cp.async (.noinc: when its copies have landed) and once
// plainly, which releases its generic stores (tokens, masks, head, interior flag) to the consumers; the
// TMA copies complete on the same barrier by bytes.
#pragma once
#include <stdint.h>

#include "../../runtime/sm90_ws.h"
#include "../../common/tile_shape.h"
#include "fna_backward_wgmma_smem.h"
#include "fna_backward_wgmma_tma.h"

namespace natten::fused {

/// cp.async of 16-byte chunks c = first, first + step, ... of one row into a tile of ROWS rows in the wgmma
/// swizzle layout; chunks at or past `dim` elements, and every chunk of a padding row (src null), are
/// zero-filled without a global read (`base` stands in as the address then).
template <int Chunks, int Rows, class S>
__device__ __forceinline__ void bwd_wg_row(S* tile, int row, const S* src, const S* base, int dim, int first, int step) {
#pragma unroll
  for (int c = first; c < Chunks; c += step) {
    const bool in = src != nullptr && c * 8 < dim;
    cp_async_16(smem_addr(tile + gmma_swizzle<Chunks, Rows>(row, c) * 8), in ? src + c * 8 : base, in);
  }
}

/// Mask of extra keys [e0, e0 + 64) that exist (fewer than 64 left past n_extra).
__device__ __forceinline__ uint64_t bwd_wg_extra_bits(int64_t e0, int64_t n_extra) {
  const int64_t valid = n_extra - e0;
  return valid >= 64 ? ~0ull : (valid <= 0 ? 0ull : (1ull << valid) - 1);
}

template <class Tag, int DT>
struct BwdWgProducer {
  using S = typename Tag::Storage;
  using Smem = BwdWgSmem<Tag, DT>;
  static constexpr int kChunks = DT / 8;

  /// The KV tile: one row per thread (128 rows), K and V.
  static __device__ void load_kv(const BackwardParams& prm, Smem& sm, bool extra, int ptid, int64_t b, int hk) {
    const NaProblem& p = prm.p;
    const BwdKvWalk& w = sm.walk;
    const S* kb = static_cast<const S*>(extra ? prm.extra_k : prm.k);
    const S* vb = static_cast<const S*>(extra ? prm.extra_v : prm.v);
    const int64_t rows = extra ? p.n_extra : p.tokens();
    const int64_t tok = extra ? (w.k0[0] + ptid < p.n_extra ? w.k0[0] + ptid : -1) : w.g.row_token(p, w.k0, sm.rowk[ptid]);
    const int64_t row = tok >= 0 ? (b * rows + tok) * p.heads_kv + hk : 0;
    bwd_wg_row<kChunks, kBwdWgKvRows>(sm.k, ptid, tok >= 0 ? kb + row * p.head_dim : nullptr, kb, (int)p.head_dim, 0, 1);
    bwd_wg_row<kChunks, kBwdWgKvRows>(sm.v, ptid, tok >= 0 ? vb + row * p.head_dim_v : nullptr, vb, (int)p.head_dim_v,
                                      0, 1);
    cp_async_mbar_arrive(smem_addr(&sm.kv_full));
  }

  /// Token and (pair not interior) mask of query row t for consumer half `half`; thread pairs (t, t + 64)
  /// split the two halves, the first of them also loading the row's LSE / Delta and storing its token.
  static __device__ void row_meta(const BackwardParams& prm, Smem& sm, const BwdKvStepAt& at, bool extra, int st,
                                  int ptid, int64_t b) {
    const NaProblem& p = prm.p;
    const BwdKvWalk& w = sm.walk;
    const int t = ptid & (kBwdWgQRows - 1), half = ptid / kBwdWgQRows;
    const int64_t N = p.tokens();
    int64_t tok;
    uint64_t bits = ~0ull;
    if (extra) {
      tok = at.tok0 + t < N ? at.tok0 + t : -1;
      bits = bwd_wg_extra_bits(w.k0[0] + half * kBwdWgHalfRows, p.n_extra);
    } else {
      int c[kMaxDims];
      tile_row_coords(at.qo, sm.rowq[t], c);
      tok = w.g.token(p, c);
      if (!at.interior) {
        int ko[kMaxDims] = {w.k0[0] + half * sm.half_tile[0], w.k0[1], w.k0[2]};
        Range win[kMaxDims];
        bits = w.g.windows(c, win) ? GroupAxes::window_rows(win, ko, sm.half_tile) : 0ull;
      }
    }
    if (!at.interior) {
      sm.mask[st][half][0][t] = (uint32_t)bits;
      sm.mask[st][half][1][t] = (uint32_t)(bits >> 32);
    }
    if (half == 0) {
      sm.qtok[st][t] = tok;
      const int64_t row = tok >= 0 ? (b * N + tok) * p.heads + at.h : 0;
      float* ld = reinterpret_cast<float*>(&sm.ld[st][t / 2]) + 2 * (t & 1);
      cp_async_4(smem_addr(ld), prm.lse + row, tok >= 0);
      cp_async_4(smem_addr(ld + 1), prm.delta + row, tok >= 0);
    }
    if (ptid == 0) {
      sm.head[st] = at.h;
      sm.interior[st] = at.interior ? 1 : 0;
    }
  }

  /// Q and dO of the step's Q tile by TMA (thread 0 only): every column block of both, the stage's full
  /// barrier expecting their bytes.
  static __device__ void tma_q_dout(const BackwardParams& prm, const BwdWgMaps& maps, Smem& sm, int st, int h,
                                    const int (&qo)[kMaxDims], int64_t b) {
    const uint32_t bar = smem_addr(&sm.full[st]);
    mbar_expect_tx(bar, 2u * kBwdWgQRows * DT * (uint32_t)sizeof(S));
#pragma unroll
    for (int cb = 0; cb < DT / 64; ++cb) {
      bwd_wg_tma_box(maps, &maps.q, smem_addr(sm.q[st]) + cb * kBwdWgQRows * 128u, bar, 64 * cb, h, qo, (int)b,
                     prm.p.length[0]);
      bwd_wg_tma_box(maps, &maps.dout, smem_addr(sm.dout[st]) + cb * kBwdWgQRows * 128u, bar, 64 * cb, h, qo,
                     (int)b, prm.p.length[0]);
    }
  }

  /// The whole load sequence of producer thread `ptid` (0..127).
  static __device__ void run(const BackwardParams& prm, const BwdWgMaps& maps, Smem& sm, bool extra, int64_t n_it,
                             int ptid, int64_t b, int hk) {
    const NaProblem& p = prm.p;
    const BwdKvWalk& w = sm.walk;
    const S* qb = static_cast<const S*>(prm.q);
    const S* ob = static_cast<const S*>(prm.d_out);
    const int64_t N = p.tokens();
    const bool tma = maps.use_tma != 0;
    if (tma && ptid == 0) {
      tma_prefetch(&maps.q);
      tma_prefetch(&maps.dout);
    }
    load_kv(prm, sm, extra, ptid, b, hk);
    const int r = ptid >> 1, sub = ptid & 1;  // two threads per Q tile row, alternate chunks
    BwdKvCursor cur;
    if (n_it > 0) cur.seek(prm, w, 0);  // (an empty walk has per_head = 0: nothing to seek)
    for (int64_t it = 0; it < n_it; ++it, cur.next(w)) {
      const int st = (int)(it % kBwdWgStages);
      const uint32_t parity = (uint32_t)(it / kBwdWgStages) & 1u;
      if (it >= kBwdWgStages) mbar_wait(smem_addr(&sm.empty[st]), parity ^ 1u);
      const BwdKvStepAt at = cur.at(prm, w, extra, kBwdWgQRows, kBwdWgKvRows);
      if (tma) {
        if (ptid == 0) tma_q_dout(prm, maps, sm, st, at.h, at.qo, b);
      } else {
        const int64_t tok = extra ? (at.tok0 + r < N ? at.tok0 + r : -1) : w.g.row_token(p, at.qo, sm.rowq[r]);
        const int64_t row = tok >= 0 ? (b * N + tok) * p.heads + at.h : 0;
        bwd_wg_row<kChunks, kBwdWgQRows>(sm.q[st], r, tok >= 0 ? qb + row * p.head_dim : nullptr, qb,
                                         (int)p.head_dim, sub, 2);
        bwd_wg_row<kChunks, kBwdWgQRows>(sm.dout[st], r, tok >= 0 ? ob + row * p.head_dim_v : nullptr, ob,
                                         (int)p.head_dim_v, sub, 2);
      }
      row_meta(prm, sm, at, extra, st, ptid, b);
      cp_async_mbar_arrive(smem_addr(&sm.full[st]));
      mbar_arrive(smem_addr(&sm.full[st]));
    }
    cp_async_wait_all();  // every arrival has fired before the thread exits
  }
};

}  // namespace natten::fused
