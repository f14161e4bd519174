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
#include "fna_backward_wgmma_schedule.h"
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

  /// The KV tile of walk w: one row per thread (128 rows), K and V.
  static __device__ void load_kv(const BackwardParams& prm, Smem& sm, const BwdKvWalk& w, bool extra, int ptid,
                                 int64_t b, int hk) {
    const NaProblem& p = prm.p;
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
  static __device__ void row_meta(const BackwardParams& prm, Smem& sm, const BwdKvWalk& w, const BwdKvStepAt& at,
                                  bool extra, int st, int ptid, int64_t b) {
    const NaProblem& p = prm.p;
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

  /// Per-thread constants of load_step.
  struct StepLoader {
    const S* qb;
    const S* ob;
    int64_t N;
    bool tma;
    int r, sub;  // two threads per Q tile row, alternate chunks
  };

  /// Step `it` of walk w (cursor `cur` there) into the ring slot of ring step g (g = it for a CTA with one
  /// KV tile; the persistent kernel counts its steps across tiles): waits for the slot to be free, loads, and
  /// arrives on its full barrier.
  static __device__ __forceinline__ void load_step(const BackwardParams& prm, const BwdWgMaps& maps, Smem& sm,
                                                   const BwdKvWalk& w, const BwdKvCursor& cur, const StepLoader& l,
                                                   bool extra, int64_t g, int ptid, int64_t b) {
    const NaProblem& p = prm.p;
    const int st = (int)(g % kBwdWgStages);
    const uint32_t parity = (uint32_t)(g / kBwdWgStages) & 1u;
    if (g >= kBwdWgStages) mbar_wait(smem_addr(&sm.empty[st]), parity ^ 1u);
    const BwdKvStepAt at = cur.at(prm, w, extra, kBwdWgQRows, kBwdWgKvRows);
    if (l.tma) {
      if (ptid == 0) tma_q_dout(prm, maps, sm, st, at.h, at.qo, b);
    } else {
      const int64_t tok = extra ? (at.tok0 + l.r < l.N ? at.tok0 + l.r : -1) : w.g.row_token(p, at.qo, sm.rowq[l.r]);
      const int64_t row = tok >= 0 ? (b * l.N + tok) * p.heads + at.h : 0;
      bwd_wg_row<kChunks, kBwdWgQRows>(sm.q[st], l.r, tok >= 0 ? l.qb + row * p.head_dim : nullptr, l.qb,
                                       (int)p.head_dim, l.sub, 2);
      bwd_wg_row<kChunks, kBwdWgQRows>(sm.dout[st], l.r, tok >= 0 ? l.ob + row * p.head_dim_v : nullptr, l.ob,
                                       (int)p.head_dim_v, l.sub, 2);
    }
    row_meta(prm, sm, w, at, extra, st, ptid, b);
    cp_async_mbar_arrive(smem_addr(&sm.full[st]));
    mbar_arrive(smem_addr(&sm.full[st]));
  }

  /// The TMA unit's copies of the maps, before their first use.
  static __device__ __forceinline__ void prefetch_maps(const BwdWgMaps& maps, int ptid) {
    if (maps.use_tma != 0 && ptid == 0) {
      tma_prefetch(&maps.q);
      tma_prefetch(&maps.dout);
    }
  }

  static __device__ __forceinline__ StepLoader step_loader(const BackwardParams& prm, const BwdWgMaps& maps, int ptid) {
    return StepLoader{static_cast<const S*>(prm.q), static_cast<const S*>(prm.d_out), prm.p.tokens(),
                      maps.use_tma != 0, ptid >> 1, ptid & 1};
  }

  /// The persistent kernel's producer: per KV tile of `sched` this CTA walks, the first warp computes the walk
  /// into the tile's walk buffer (once the consumers have handed it back from two tiles before); every thread
  /// then loads K / V (once the consumers' last step of the previous tile has read them) and the steps, ring
  /// steps counted across tiles.
  static __device__ void run_persistent(const BackwardParams& prm, const BwdWgMaps& maps, const BwdWgSchedule& sched,
                                        Smem& sm, bool extra, int ptid) {
    const StepLoader l = step_loader(prm, maps, ptid);
    prefetch_maps(maps, ptid);
    const int64_t heads_per_kv = prm.p.heads / prm.p.heads_kv;
    int64_t g = 0;  // ring steps so far
    for (BwdWgTileSeq q; q.valid(sched); q.next()) {
      const BwdWgTile t = sched.at(q.tile);
      const int wb = q.buffer();
      BwdKvWalk& buf = sm.walk_buffer(wb);
      // Every producer thread is done with tile i - 2 (its reads of this buffer, its wait on this buffer's full
      // barrier) before the first warp writes the buffer again: a warp running ahead through short tiles would
      // otherwise overwrite a walk still being read, or complete a phase another warp still waits for.
      named_sync<128>(kBwdWgProducerBarrier);
      if (ptid < 32) {
        if (q.i >= 2) mbar_wait(smem_addr(&sm.walk_empty[wb]), q.use_parity() ^ 1u);
        BwdKvWalk::init_by_first_warp(buf, prm, extra, t.slot, kBwdWgQRows, kBwdWgKvRows);
        __syncwarp();
        if (ptid == 0) mbar_arrive(smem_addr(&sm.walk_full[wb]));  // releases the walk's stores
      }
      mbar_wait(smem_addr(&sm.walk_full[wb]), q.use_parity());
      const BwdKvWalk& w = buf;
      if (w.empty) continue;
      if (q.kv >= 1) mbar_wait(smem_addr(&sm.kv_empty), (uint32_t)((q.kv - 1) & 1));
      load_kv(prm, sm, w, extra, ptid, t.b, t.hk);
      ++q.kv;
      const int64_t n_it = w.per_head * heads_per_kv;
      BwdKvCursor cur;
      if (n_it > 0) cur.seek(prm, w, 0, t.hk);
      for (int64_t it = 0; it < n_it; ++it, ++g, cur.next(w)) load_step(prm, maps, sm, w, cur, l, extra, g, ptid, t.b);
    }
    cp_async_wait_all();  // every arrival has fired before the thread exits
  }

  /// The whole load sequence of producer thread `ptid` (0..127) for the CTA's one KV tile.
  static __device__ void run(const BackwardParams& prm, const BwdWgMaps& maps, Smem& sm, bool extra, int64_t n_it,
                             int ptid, int64_t b, int hk) {
    const BwdKvWalk& w = sm.walk;
    const StepLoader l = step_loader(prm, maps, ptid);
    prefetch_maps(maps, ptid);
    load_kv(prm, sm, w, extra, ptid, b, hk);
    BwdKvCursor cur;
    if (n_it > 0) cur.seek(prm, w, 0);  // (an empty walk has per_head = 0: nothing to seek)
    for (int64_t it = 0; it < n_it; ++it, cur.next(w)) load_step(prm, maps, sm, w, cur, l, extra, it, ptid, b);
    cp_async_wait_all();  // every arrival has fired before the thread exits
  }
};

}  // namespace natten::fused
