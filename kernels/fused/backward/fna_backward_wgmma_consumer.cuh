// Consumer warpgroup of the sm_90a wgmma backward: one 64-key half of the CTA's KV tile (M = 64 keys), dK and
// dV of its keys in registers across the whole walk. Per step (a Q tile of 64 queries out of the ring),
// in the transposed, key-major view of the mma backward (fna_backward_kv.h):
//   S^T  = K Q^T,  dP^T = V dO^T                      (wgmma SS, K-major operands, issued together)
//   P^T  = exp2(S^T * scale*log2e - LSE*log2e), zero outside the windows (masks on non-interior pairs only)
//   dS^T = P^T o (dP^T - Delta)
//   dV  += P^T dO,  dK += dS^T Q                      (wgmma RS: A from the accumulators, B MN-major)
//   dQ  += dS K    (KV-parallel mode only): both warpgroups put their dS^T into shared memory (two buffers,
//                  alternating by step); after a barrier of the two, one of them (the step's owner, alternating)
//                  reads the whole 128-key dS^T back as the MN-major A operand and K as the MN-major B operand, in
//                  64-column blocks of the head dim, puts the fp32 sums into a shared dQ tile and adds each of
//                  its rows to the dQ workspace with one TMA bulk reduction (order not fixed): one reduction
//                  per 128-key tile and step, not one per half, and none issued element by element.
// S^T and dP^T are committed as two groups: the exponentials of P^T run while dP^T is still in the tensor
// cores. The stage is handed back (empty barrier) as soon as dV and dK have read it, before the dQ write-out.
#pragma once
#include <stdint.h>

#include "../../common/tile_shape.h"
#include "../../runtime/sm90_ws.h"
#include "fna_backward_kv.h"
#include "fna_backward_wgmma_schedule.h"
#include "fna_backward_wgmma_smem.h"

namespace natten::fused {

/// Named barrier of the two consumer warpgroups (256 threads; 0 is __syncthreads): both dS^T halves of a step
/// are in shared memory.
constexpr uint32_t kBwdWgDsBarrier = 1;
/// Named barriers of each consumer warpgroup alone (2 + half): its shared dQ tile is complete.
constexpr uint32_t kBwdWgDqBarrier = 2;

template <class Tag, int DT>
struct BwdWgConsumer {
  using S = typename Tag::Storage;
  using Smem = BwdWgSmem<Tag, DT>;
  static constexpr int kColBlock = 128 * 128;  // bytes of one 64-column block of the 128-row K / V tiles
  static constexpr int kQBlock = 64 * 128;     // and of the 64-row Q / dO tiles

  /// acc (+)= A B^T over the head dim with A = 64 rows of the KV tile (from row 64 * half) and B the 64 rows of
  /// a Q-side tile, both K-major: S^T (K, Q) and dP^T (V, dO).
  static __device__ __forceinline__ void issue_rows(float (&acc)[32], uint32_t kv, uint32_t qs, int half) {
#pragma unroll
    for (int kk = 0; kk < DT / 16; ++kk) {
      const uint64_t a = gmma_desc(kv + (kk >> 2) * kColBlock + half * kQBlock + (kk & 3) * 32u, 16, 1024);
      const uint64_t b = gmma_desc(qs + (kk >> 2) * kQBlock + (kk & 3) * 32u, 16, 1024);
      wgmma_m64n64k16_ss(Tag{}, acc, a, b, kk > 0);
    }
  }
  /// acc += A X over the 64 queries, A from registers (P^T or dS^T), X a Q-side tile as the MN-major B operand.
  static __device__ __forceinline__ void issue_acc(float (&acc)[DT / 2], const uint32_t (&a)[4][4], uint32_t xs) {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const uint64_t b = gmma_desc(xs + j * 2048u, kQBlock, 1024);
      if constexpr (DT == 64) wgmma_m64n64k16_rs(Tag{}, acc, a[j], b);
      else wgmma_m64n128k16_rs(Tag{}, acc, a[j], b);
    }
  }
  /// acc = dS K for head-dim column block cb over all 128 keys: dS^T (the two halves' 64 x 64 tiles, adjacent in
  /// shared memory: 16 key rows per 2048 bytes) and the KV tile's K rows, both MN-major.
  static __device__ __forceinline__ void issue_dq(float (&acc)[32], uint32_t ds, uint32_t k, int cb) {
#pragma unroll
    for (int j = 0; j < kBwdWgKvRows / 16; ++j) {
      const uint64_t a = gmma_desc(ds + j * 2048u, kQBlock, 1024);
      const uint64_t b = gmma_desc(k + cb * kColBlock + j * 2048u, kColBlock, 1024);
      wgmma_m64n64k16_ss_tt(Tag{}, acc, a, b, j > 0);
    }
  }

  /// P^T in place of S^T (s) for stage st: exp2 of the scaled scores less the LSE, zero outside the windows;
  /// this thread's key rows are r0, r0 + 8 of the half and its query columns 8 nb + 2 (lane % 4) + {0, 1}.
  static __device__ __forceinline__ void probs(const BackwardParams& prm, const Smem& sm, int st, int half,
                                               bool interior, float (&s)[32], int warp, int lane) {
    const int tq = lane & 3, r0 = 16 * warp + (lane >> 2);
    const int sh0 = r0 & 31, sh1 = (r0 + 8) & 31;
#pragma unroll
    for (int nb = 0; nb < 8; ++nb) {
      const int c = 8 * nb + 2 * tq;
      const float4 ld = sm.ld[st][c / 2];
      uint2 m = make_uint2(~0u, ~0u);
      if (!interior) m = *reinterpret_cast<const uint2*>(&sm.mask[st][half][warp >> 1][c]);
      const float l2[2] = {ld.x * kLog2e, ld.z * kLog2e};
      const uint32_t mm[2] = {m.x, m.y};
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        float p0 = exp2_approx(fmaf(s[4 * nb + e], prm.scale_log2, -l2[e]));
        float p1 = exp2_approx(fmaf(s[4 * nb + 2 + e], prm.scale_log2, -l2[e]));
        if (!((mm[e] >> sh0) & 1u)) p0 = 0.f;
        if (!((mm[e] >> sh1) & 1u)) p1 = 0.f;
        s[4 * nb + e] = p0;
        s[4 * nb + 2 + e] = p1;
      }
    }
  }

  /// dS^T = P^T o (dP^T - Delta) in place of dP^T (dp), p holding P^T.
  static __device__ __forceinline__ void grads(const Smem& sm, int st, const float (&p)[32], float (&dp)[32], int lane) {
    const int tq = lane & 3;
#pragma unroll
    for (int nb = 0; nb < 8; ++nb) {
      const float4 ld = sm.ld[st][(8 * nb + 2 * tq) / 2];
      const float dl[2] = {ld.y, ld.w};
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        dp[4 * nb + e] = p[4 * nb + e] * (dp[4 * nb + e] - dl[e]);
        dp[4 * nb + 2 + e] = p[4 * nb + 2 + e] * (dp[4 * nb + 2 + e] - dl[e]);
      }
    }
  }

  /// dS^T of this thread's elements into the half's swizzled 64 x 64 tile (rows keys, columns queries).
  static __device__ __forceinline__ void store_ds(uint32_t* ds, const float (&dp)[32], int warp, int lane) {
    const int tq = lane & 3, r0 = 16 * warp + (lane >> 2);
#pragma unroll
    for (int nb = 0; nb < 8; ++nb) {
      ds[gmma_swizzle<8, 64>(r0, nb) * 4 + tq] = pack2(Tag{}, dp[4 * nb], dp[4 * nb + 1]);
      ds[gmma_swizzle<8, 64>(r0 + 8, nb) * 4 + tq] = pack2(Tag{}, dp[4 * nb + 2], dp[4 * nb + 3]);
    }
  }

  /// This thread's part of a 64 x 64 dQ block (query rows 16 warp + lane / 4 + {0, 8}, head-dim columns 64 cb + ...)
  /// into the shared dQ tile.
  static __device__ __forceinline__ void stage_dq(Smem& sm, const float (&acc)[32], int cb, int warp, int lane) {
    const int r = 16 * warp + (lane >> 2);
#pragma unroll
    for (int nb = 0; nb < 8; ++nb) {
      const int d = 64 * cb + 8 * nb + 2 * (lane & 3);
      *reinterpret_cast<float2*>(&sm.dq[r][d]) = make_float2(acc[4 * nb], acc[4 * nb + 1]);
      *reinterpret_cast<float2*>(&sm.dq[r + 8][d]) = make_float2(acc[4 * nb + 2], acc[4 * nb + 3]);
    }
  }

  /// Per-thread constants of step().
  struct Stepper {
    int half, ct, warp, lane;
    bool want_dq;
    uint32_t k, v;  // shared addresses of the KV tile
    int64_t N;
  };

  static __device__ __forceinline__ Stepper stepper(const BackwardParams& prm, const Smem& sm, int half, int ct) {
    return Stepper{half,
                   ct,
                   ct >> 5,
                   ct & 31,
                   prm.dq_acc != nullptr,
                   smem_addr(sm.k),
                   smem_addr(sm.v),
                   prm.p.tokens()};
  }

  /// One step of the walk from the ring slot of ring step g (g = the step for a CTA with one KV tile; the
  /// persistent kernel counts its steps across tiles): dV and dK into the accumulators, and (KV-parallel) the
  /// step's dQ rows when this warpgroup owns step g.
  static __device__ __forceinline__ void step(const BackwardParams& prm, Smem& sm, const Stepper& c, int64_t g,
                                              float (&dk)[DT / 2], float (&dv)[DT / 2], int64_t b) {
    const int half = c.half, ct = c.ct, warp = c.warp, lane = c.lane;
    const int st = (int)(g % kBwdWgStages);
    mbar_wait(smem_addr(&sm.full[st]), (uint32_t)(g / kBwdWgStages) & 1u);
    fence_proxy_async();
    const uint32_t q = smem_addr(sm.q[st]), dout = smem_addr(sm.dout[st]);
    float s[32], dp[32];
    wgmma_fence();
    issue_rows(s, c.k, q, half);
    wgmma_commit();
    issue_rows(dp, c.v, dout, half);
    wgmma_commit();
    const bool interior = sm.interior[st] != 0;
    const int h = sm.head[st];
    wgmma_wait<1>();  // S^T is in; dP^T may still be running
#pragma unroll
    for (int i = 0; i < 32; ++i) pin(s[i]);
    probs(prm, sm, st, half, interior, s, warp, lane);
    wgmma_wait<0>();
#pragma unroll
    for (int i = 0; i < 32; ++i) pin(dp[i]);
    grads(sm, st, s, dp, lane);
    const int buf = (int)(g & 1);
    if (c.want_dq) store_ds(reinterpret_cast<uint32_t*>(sm.ds[buf][half]), dp, warp, lane);
    uint32_t pa[4][4], da[4][4];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      pack_a_from_c(Tag{}, pa[j], *reinterpret_cast<const float(*)[4]>(&s[8 * j]),
                    *reinterpret_cast<const float(*)[4]>(&s[8 * j + 4]));
      pack_a_from_c(Tag{}, da[j], *reinterpret_cast<const float(*)[4]>(&dp[8 * j]),
                    *reinterpret_cast<const float(*)[4]>(&dp[8 * j + 4]));
    }
    wgmma_fence();
    issue_acc(dv, pa, dout);
    issue_acc(dk, da, q);
    wgmma_commit();
    if (c.want_dq) {
      fence_proxy_async();  // dS^T stores, read next by the owner's wgmma
      // The bulk reductions this thread issued from the shared dQ tile have read it: the owner may refill it.
      if (ct < kBwdWgQRows) bulk_wait_read<0>();
      named_sync<256>(kBwdWgDsBarrier);  // both halves' dS^T are in the buffer
    }
    if (!c.want_dq || buf != half) {  // not this step's dQ owner
      wgmma_wait<0>();
      mbar_arrive(smem_addr(&sm.empty[st]));
      return;
    }
    // Thread ct < 64 adds query row ct of the shared dQ tile to the workspace (read before the stage goes back).
    const int64_t tok = ct < kBwdWgQRows ? sm.qtok[st][ct] : -1;
    const uint32_t ds = smem_addr(sm.ds[buf][0]);
#pragma unroll
    for (int cb = 0; cb < DT / 64; ++cb) {
      float acc[32];
      wgmma_fence();
      issue_dq(acc, ds, c.k, cb);
      wgmma_commit();
      wgmma_wait<0>();
      if (cb == 0) mbar_arrive(smem_addr(&sm.empty[st]));  // dV and dK have read the stage too
      stage_dq(sm, acc, cb, warp, lane);
    }
    fence_proxy_async();  // the dQ tile's stores, read next by the bulk reductions
    named_sync<128>(kBwdWgDqBarrier + half);
    if (tok >= 0) {
      bulk_reduce_add_f32(prm.dq_acc + row_offset(b, tok, c.N, prm.p.heads, h, prm.p.head_dim),
                          smem_addr(&sm.dq[ct][0]), (uint32_t)prm.p.head_dim * 4u);
      bulk_commit();
    }
  }

  /// The whole walk of the CTA's one KV tile.
  static __device__ void run(const BackwardParams& prm, Smem& sm, bool extra, int64_t n_it, int half, int ct,
                             int64_t b, int hk) {
    const Stepper c = stepper(prm, sm, half, ct);
    float dk[DT / 2], dv[DT / 2];
#pragma unroll
    for (int i = 0; i < DT / 2; ++i) dk[i] = dv[i] = 0.f;
    mbar_wait(smem_addr(&sm.kv_full), 0);
    fence_proxy_async();  // cp.async wrote the tiles through the generic proxy; wgmma reads the async one
    for (int64_t it = 0; it < n_it; ++it) step(prm, sm, c, it, dk, dv, b);
    if (c.want_dq && ct < kBwdWgQRows) bulk_wait<0>();  // the shared dQ tile outlives the reductions
    store(prm, sm, sm.walk, extra, dk, dv, half, c.warp, c.lane, b, hk, (int64_t)blockIdx.x);
  }

  /// The persistent kernel's consumer: the KV tiles of `sched` this CTA walks, one after another, each
  /// tile's walk from the producer (walk buffers alternating by tile), K / V handed back once the last step
  /// has read them, dK / dV stored, and the walk buffer handed back.
  static __device__ void run_persistent(const BackwardParams& prm, const BwdWgSchedule& sched, Smem& sm, bool extra,
                                        int half, int ct) {
    const Stepper c = stepper(prm, sm, half, ct);
    const int64_t heads_per_kv = prm.p.heads / prm.p.heads_kv;
    int64_t g = 0;  // ring steps so far
    for (BwdWgTileSeq q; q.valid(sched); q.next()) {
      const BwdWgTile t = sched.at(q.tile);
      const int wb = q.buffer();
      mbar_wait(smem_addr(&sm.walk_full[wb]), q.use_parity());
      const BwdKvWalk& w = sm.walk_buffer(wb);
      if (w.empty) {  // an empty slot of a short dilation group: no K/V, nothing stored
        mbar_arrive(smem_addr(&sm.walk_empty[wb]));
        continue;
      }
      float dk[DT / 2], dv[DT / 2];
#pragma unroll
      for (int e = 0; e < DT / 2; ++e) dk[e] = dv[e] = 0.f;
      // Waited for even by a tile without steps: the next tile's copies must not race this one's.
      mbar_wait(smem_addr(&sm.kv_full), (uint32_t)(q.kv & 1));
      fence_proxy_async();  // cp.async wrote the tiles through the generic proxy; wgmma reads the async one
      const int64_t n_it = w.per_head * heads_per_kv;
      for (int64_t it = 0; it < n_it; ++it, ++g) step(prm, sm, c, g, dk, dv, t.b);
      mbar_arrive(smem_addr(&sm.kv_empty));  // every wgmma reading K / V has completed
      ++q.kv;
      store(prm, sm, w, extra, dk, dv, half, c.warp, c.lane, t.b, t.hk, t.slot);
      mbar_arrive(smem_addr(&sm.walk_empty[wb]));
    }
    if (c.want_dq && ct < kBwdWgQRows) bulk_wait<0>();  // the shared dQ tile outlives the reductions
  }

  /// dK (scaled) and dV of this thread's key rows: to dK / dV, or (extra pass) to the split's fp32 partials.
  /// `slot`: the CTA's grid slot (the extra pass's split is slot % extra_splits).
  static __device__ __forceinline__ void store(const BackwardParams& prm, const Smem& sm, const BwdKvWalk& w,
                                               bool extra, const float (&dk)[DT / 2], const float (&dv)[DT / 2],
                                               int half, int warp, int lane, int64_t b, int hk, int64_t slot) {
    const NaProblem& p = prm.p;
    const int tq = lane & 3;
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      const int r = half * kBwdWgHalfRows + 16 * warp + (lane >> 2) + 8 * rr;
      if (extra) {
        const int64_t e = w.k0[0] + r;
        if (e >= p.n_extra) continue;
        const int split = (int)(slot % prm.extra_splits);
        const int64_t rowk = ((split * p.batch + b) * p.n_extra + e) * p.heads_kv + hk;
        float* pk = prm.dk_extra_part + rowk * p.head_dim;
        float* pv = prm.dv_extra_part + rowk * p.head_dim_v;
#pragma unroll
        for (int nb = 0; nb < DT / 8; ++nb) {
          const int d = 8 * nb + 2 * tq;
          if (d < p.head_dim)
            *reinterpret_cast<float2*>(pk + d) =
                make_float2(dk[4 * nb + 2 * rr] * prm.scale, dk[4 * nb + 2 * rr + 1] * prm.scale);
          if (d < p.head_dim_v)
            *reinterpret_cast<float2*>(pv + d) = make_float2(dv[4 * nb + 2 * rr], dv[4 * nb + 2 * rr + 1]);
        }
      } else {
        const int64_t tok = w.g.row_token(p, w.k0, sm.rowk[r]);
        if (tok < 0) continue;
        const int64_t N = p.tokens();
        S* pk = static_cast<S*>(prm.dk) + row_offset(b, tok, N, p.heads_kv, hk, p.head_dim);
        S* pv = static_cast<S*>(prm.dv) + row_offset(b, tok, N, p.heads_kv, hk, p.head_dim_v);
#pragma unroll
        for (int nb = 0; nb < DT / 8; ++nb) {
          const int d = 8 * nb + 2 * tq;
          if (d < p.head_dim)
            *reinterpret_cast<uint32_t*>(pk + d) =
                pack2(Tag{}, dk[4 * nb + 2 * rr] * prm.scale, dk[4 * nb + 2 * rr + 1] * prm.scale);
          if (d < p.head_dim_v)
            *reinterpret_cast<uint32_t*>(pv + d) = pack2(Tag{}, dv[4 * nb + 2 * rr], dv[4 * nb + 2 * rr + 1]);
        }
      }
    }
  }
};

}  // namespace natten::fused
