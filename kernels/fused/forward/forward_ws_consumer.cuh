// Consumer warpgroup of the 'wgmma-ws' forward: 64 queries (one half of the CTA's Q tile), the KV walk of
// forward_ws_walk.cuh out of the ring, then the epilogue.
//
// Per KV tile t (S = Q K^T and O += P V on the tensor cores, both asynchronous wgmma):
//   wait K(t); [turn] issue S(t) = Q K(t)^T; wait V(t-1); issue O += P(t-1) V(t-1); [hand over]
//   wait S(t); mask (edge tiles only) and online softmax -> P(t), alpha(t)
//   (S(t) done: free K(t)) ... wait P(t-1) V(t-1); free V(t-1); O *= alpha(t)
// so S(t) overlaps the softmax bookkeeping of the previous product inside the warpgroup, and the two
// consumer warpgroups take turns issuing (ping-pong on named barriers 1 and 2: [turn] waits for the other
// warpgroup's [hand over]), so one's softmax runs while the other's products occupy the tensor cores.
//
// Epilogue: O / l staged through this warpgroup's own Q half (the Q box's layout, gmma_swizzle: 64-column
// blocks of 128-byte swizzled rows), then stored by one TMA store of that box (WsParams::tma_store_o) or token
// by token (16-byte rows, coalesced stores); LSE per row; then the Q buffer is released to the producer (the
// next-but-one work item of a persistent CTA loads there).
#pragma once
#include <stdint.h>

#include "forward_kernel.cuh"
#include "forward_ws_mask.cuh"
#include "forward_ws_params.h"
#include "forward_ws_plan.cuh"
#include "forward_ws_ring.cuh"
#include "forward_ws_softmax.cuh"
#include "forward_ws_walk.cuh"

namespace natten::fused {

/// Named barriers: 1 + w is warpgroup w's turn to issue; 3 + w syncs warpgroup w's 128 threads.
constexpr uint32_t kWsTurnBarrier = 1;
constexpr uint32_t kWsGroupBarrier = 3;

/// v broadcast from lane 0: the same value where it already is warp-uniform, but one the compiler then knows to
/// be, so what is built from it (the products' shared-memory descriptors) lives in uniform registers (a
/// descriptor in ordinary registers costs an R2UR and its latency before each wgmma, with the turn held).
__device__ __forceinline__ int warp_uniform(int v) { return __shfl_sync(0xffffffffu, v, 0); }

template <class Tr, class Tag, int DT>
struct WsConsumer {
  using Ring = WsRing<Tr>;
  using QHalf = typename Tr::QHalf;
  static constexpr int kDims = Tr::kDims;
  static constexpr int kKV = Tr::kKV;
  static constexpr int kBlocks = kKV / 8;  // n8 blocks of S
  static constexpr int kSteps = kKV / 16;  // k-steps of P V
  static constexpr int kChunks = Tr::kChunks;

  /// The ring stage of tile t, known to the compiler as warp-uniform (warp_uniform).
  static __device__ __forceinline__ int stage_of(const Ring& ring, int t) { return warp_uniform(ring.stage(t)); }

  /// Issues S = Q K^T (K-major Q and K, 128-byte swizzle: k-step kk is 32 bytes into column block kk / 4).
  static __device__ __forceinline__ void issue_qk(float (&s)[kBlocks * 4], uint32_t q, uint32_t k) {
    const uint64_t q0 = gmma_desc(q, 16, 1024), k0 = gmma_desc(k, 16, 1024);
#pragma unroll
    for (int kk = 0; kk < DT / 16; ++kk) {
      const uint64_t qd = gmma_desc_advance(q0, (kk >> 2) * (64u * 128u) + (kk & 3) * 32u);
      const uint64_t kd = gmma_desc_advance(k0, (kk >> 2) * (uint32_t(kKV) * 128u) + (kk & 3) * 32u);
      if constexpr (kKV == 64) wgmma_m64n64k16_ss(Tag{}, s, qd, kd, kk > 0);
      else if constexpr (kKV == 80) wgmma_m64n80k16_ss(Tag{}, s, qd, kd, kk > 0);
      else wgmma_m64n128k16_ss(Tag{}, s, qd, kd, kk > 0);
    }
  }
  /// Issues O += P V (P from registers; V the MN-major B operand: 16 keys = 2048 bytes per k-step, column
  /// blocks one whole tile apart).
  static __device__ __forceinline__ void issue_pv(float (&o)[DT / 2], const uint32_t (&pa)[kSteps][4], uint32_t v) {
    const uint64_t v0 = gmma_desc(v, 128u * kKV, 1024);
#pragma unroll
    for (int j = 0; j < kSteps; ++j) {
      const uint64_t vd = gmma_desc_advance(v0, j * 2048u);
      if constexpr (DT == 64) wgmma_m64n64k16_rs(Tag{}, o, pa[j], vd);
      else wgmma_m64n128k16_rs(Tag{}, o, pa[j], vd);
    }
  }

  /// Keeps O and P live and unmoved until the P V product that reads and writes them has finished.
  static __device__ __forceinline__ void pin_pv(float (&o)[DT / 2], uint32_t (&pa)[kSteps][4]) {
#pragma unroll
    for (int i = 0; i < DT / 2; ++i) pin(o[i]);
#pragma unroll
    for (int j = 0; j < kSteps; ++j)
#pragma unroll
      for (int i = 0; i < 4; ++i) pin(pa[j][i]);
  }

  /// O *= alpha per row, only when some row's max moved (in the middle of a walk it mostly does not).
  static __device__ __forceinline__ void rescale(float (&o)[DT / 2], const float (&alpha)[2]) {
    if (__all_sync(0xffffffffu, alpha[0] == 1.f && alpha[1] == 1.f)) return;
#pragma unroll
    for (int i = 0; i < DT / 8; ++i) {
      o[4 * i] *= alpha[0];
      o[4 * i + 1] *= alpha[0];
      o[4 * i + 2] *= alpha[1];
      o[4 * i + 3] *= alpha[1];
    }
  }

  /// This warp's arrival on a stage's empty barrier (its products reading the stage have finished).
  static __device__ __forceinline__ void release(uint32_t bar, int lane) {
    __syncwarp();
    if (lane == 0) mbar_arrive(bar);
  }

  /// Flips the sign of this warpgroup's Q half (a negative scale runs on -Q).
  static __device__ __forceinline__ void negate_half(uint8_t* q, int ct) {
    uint4* u = reinterpret_cast<uint4*>(q);
    for (int i = ct; i < 64 * kChunks; i += 128) {
      uint4 x = u[i];
      x.x ^= 0x80008000u, x.y ^= 0x80008000u, x.z ^= 0x80008000u, x.w ^= 0x80008000u;  // fp16/bf16 sign bits
      u[i] = x;
    }
  }

  /// Window tiles [first, end) of half `half` (those whose axis-0 rows meet its windows: one contiguous run of
  /// the row-major walk; a half past the group's end takes the first row, its rows are never stored).
  static __device__ __forceinline__ void live_tiles(const WsWalk<Tr>& walk, const WsPlan<Tr>& plan, int half,
                                                    int& first, int& end) {
    const int f = half * QHalf::ext(0);
    const int l = min(walk.q0[0] + f + QHalf::ext(0), walk.ax[0].lg) - 1 - walk.q0[0];
    const int r0 = walk.kv_ext(0), per_row = walk.n_kv[1] * walk.n_kv[2];
    const int lo = plan.window(0, f).start - walk.kv_lo[0], hi = plan.window(0, l < f ? f : l).end - walk.kv_lo[0];
    int a0 = max(0, lo / r0), a1 = min(walk.n_kv[0], ceil_div(max(hi, 0), r0));
    if (a1 <= a0) a0 = 0, a1 = 1;
    first = a0 * per_row;
    end = a1 * per_row;
  }

  /// The turns of half w's window segment. Each half takes a turn on every window tile in [s, e) (dead ones
  /// with no product) and none on the others, with e - s the same for both halves (their hand-overs
  /// alternate, so their turn counts must match) and s as close to its first live tile as lets the halves'
  /// tiles at any turn be at most kStages - 2 apart: further apart, the half ahead would wait for a stage that
  /// the other frees only at its next turn. A turn on every dead tile (both halves always on the same tile)
  /// made a half idle through the other's first tiles (3-D planes: two tiles per item at each end). e may pass
  /// the last window tile: the turns past it have no tile.
  struct WsTurnPlan {
    int first, end;  // live window tiles
    int s, e;        // window tiles with a turn
  };
  static __device__ __forceinline__ WsTurnPlan turn_plan(const WsWalk<Tr>& walk, const WsPlan<Tr>& plan, int w) {
    WsTurnPlan tp;
    int other_first, other_end;
    live_tiles(walk, plan, w, tp.first, tp.end);
    live_tiles(walk, plan, 1 - w, other_first, other_end);
    const int slack = Tr::kStages - 2, start = min(tp.first, other_first);
    tp.s = min(tp.first, start + slack);
    const int other_s = min(other_first, start + slack);
    tp.e = tp.s + max(tp.end - tp.s, other_end - other_s);
    return tp;
  }

  /// Turns without a product or a tile.
  static __device__ __forceinline__ void empty_turns(int turns, uint32_t my_turn, uint32_t other_turn) {
    for (; turns > 0; --turns) {
      named_sync<256>(my_turn);
      named_arrive<256>(other_turn);
    }
  }

  /// The current work item from its plan (forward_ws_plan.cuh); returns the item's KV tile count. The item's
  /// walk, batch and head are read up front: the plan buffer may be refilled once the Q buffer is released at
  /// the end.
  static __device__ __forceinline__ int run(const WsParams& prm, const WsPlan<Tr>& plan, const Ring& ring,
                                            uint8_t* smem, int w, int ct) {
    const WsWalk<Tr> walk = plan.walk;
    const uint32_t b = plan.b;
    const int h = plan.h;
    const int warp = ct >> 5, lane = ct & 31;
    const bool tma = prm.use_tma != 0;
    int h0[3];
    walk.half_origin(w, h0);
    WsMask<Tr> mask;
    mask.init(walk, plan, h0, warp, lane);
    const uint32_t q = ring.q_half(w);
    uint8_t* const q_ptr = smem + ring.q_half_offset(w);

    mbar_wait(ring.q_full(), ring.q_parity());
    if (prm.negate_q) {
      negate_half(q_ptr, ct);
      fence_proxy_async();  // generic writes, read next by wgmma (async proxy)
      named_sync<128>(kWsGroupBarrier + w);
    } else if (!tma) {
      fence_proxy_async();  // cp.async wrote Q through the generic proxy
    }

    WsSoftmax<kBlocks> sm;
    float o[DT / 2];
#pragma unroll
    for (int i = 0; i < DT / 2; ++i) o[i] = 0.f;
    uint32_t pa[kSteps][4];
    const uint32_t my_turn = kWsTurnBarrier + w, other_turn = kWsTurnBarrier + (1 - w);

    // Mask (edge tiles) and online softmax of tile t's scores; P of the tile into pa. Tiles come in order within
    // a segment: ko is the window tile's origin (set at a segment's start, then advanced), pos its place in its
    // plane (plane configs).
    int ko[3] = {0, 0, 0}, pos = 0;
    auto softmax = [&](int t, float(&sc)[kBlocks * 4], float(&alpha)[2]) {
      if (t < walk.n_window_tiles) {
        if constexpr (Tr::kStrips) {
          uint32_t bits[2];
          mask.strip_bits(ko, bits);
          mask.apply_bits(sc, bits);
        } else if constexpr (WsMask<Tr>::kPlanes) {
          if (mask.positions <= WsMask<Tr>::kPlanePositions) mask.apply_plane(sc, pos);
          else if (!mask.interior(ko)) mask.apply_window(sc, ko);
          pos = pos + 1 == mask.positions ? 0 : pos + 1;
        } else if (!mask.interior(ko)) {
          mask.apply_window(sc, ko);
        }
        walk.advance(ko);
      } else {
        mask.apply_extra(sc, walk.n_extra - walk.extra_first(t));
      }
      sm.step(sc, prm.scale_log2, alpha);
    };
    auto pack_p = [&](const float(&sc)[kBlocks * 4]) {
#pragma unroll
      for (int j = 0; j < kSteps; ++j)
        pack_a_from_c(Tag{}, pa[j], *reinterpret_cast<const float(*)[4]>(&sc[8 * j]),
                      *reinterpret_cast<const float(*)[4]>(&sc[8 * j + 4]));
    };

    // The half computes two runs of consecutive tiles ("segments"): the window tiles whose axis-0 rows meet its
    // windows (the halves split axis 0; a contiguous range of the row-major walk), then the additional-key
    // tiles. Every other ("dead") tile is waited for and freed with no product. Each segment is one pipeline
    // with a product on every tile (a wgmma under a branch is serialised by the compiler) and takes one turn
    // more than its tiles; turns without a product pair the halves' turns (WsTurnPlan).
    const WsTurnPlan tp = turn_plan(walk, plan, w);
    int next = 0;  // first tile this warpgroup has not taken
    // Dead tiles up to t, those in [turn_lo, turn_hi) each with a turn.
    auto dead_until = [&](int t, int turn_lo, int turn_hi) {
      for (; next < t; ++next) {
        const int sd = ring.stage(next);
        mbar_wait(ring.k_full(sd), ring.parity(next));
        release(ring.k_empty(sd), lane);
        mbar_wait(ring.v_full(sd), ring.parity(next));
        release(ring.v_empty(sd), lane);
        if (next >= turn_lo && next < turn_hi) {
          named_sync<256>(my_turn);
          named_arrive<256>(other_turn);
        }
      }
    };
    // The window segment's dead tiles after its live ones, then its turns past the last window tile.
    auto window_tail = [&]() {
      dead_until(walk.n_window_tiles, tp.end, tp.e);
      empty_turns(tp.e - walk.n_window_tiles, my_turn, other_turn);
    };
    const int n_segments = walk.n_tiles > walk.n_window_tiles ? 2 : 1;
    for (int g = 0; g < n_segments; ++g) {
      const int t0 = g == 0 ? tp.first : walk.n_window_tiles;
      const int n = g == 0 ? tp.end : walk.n_tiles;
      if (g == 0) dead_until(t0, tp.s, t0);
      else window_tail();
      // The segment's first window tile starts an axis-0 tile row (that of tp.first): its origin, at kv_lo on the
      // other axes, the first place of its plane.
      const int row0 = tp.first / (walk.n_kv[1] * walk.n_kv[2]);
      ko[0] = walk.kv_lo[0] + row0 * walk.kv_ext(0), ko[1] = walk.kv_lo[1], ko[2] = walk.kv_lo[2];
      pos = 0;
      // First tile: S only (O is up to date).
      {
        const int s0 = stage_of(ring, t0);
        mbar_wait(ring.k_full(s0), ring.parity(t0));
        if (!tma) fence_proxy_async();
        float sc[kBlocks * 4];
        named_sync<256>(my_turn);
        wgmma_fence();
        issue_qk(sc, q, ring.k(s0));
        wgmma_commit();
        named_arrive<256>(other_turn);
        wgmma_wait<0>();
#pragma unroll
        for (int i = 0; i < kBlocks * 4; ++i) pin(sc[i]);
        release(ring.k_empty(s0), lane);
        float alpha[2];
        softmax(t0, sc, alpha);
        rescale(o, alpha);
        pack_p(sc);
      }
      for (int t = t0 + 1; t < n; ++t) {
        const int s = stage_of(ring, t), sp = stage_of(ring, t - 1);
        // Both operands before the turn: no branch between the products of one turn.
        mbar_wait(ring.k_full(s), ring.parity(t));
        mbar_wait(ring.v_full(sp), ring.parity(t - 1));
        if (!tma) fence_proxy_async();
        float sc[kBlocks * 4];
        named_sync<256>(my_turn);
        wgmma_fence();  // P(t-1) and the rescaled O were written by ordinary instructions
        issue_qk(sc, q, ring.k(s));
        wgmma_commit();
        issue_pv(o, pa, ring.v(sp));
        wgmma_commit();
        named_arrive<256>(other_turn);
        wgmma_wait<1>();  // S(t) done, P(t-1) V(t-1) may still run
#pragma unroll
        for (int i = 0; i < kBlocks * 4; ++i) pin(sc[i]);
        release(ring.k_empty(s), lane);
        float alpha[2];
        softmax(t, sc, alpha);
        wgmma_wait<0>();
        pin_pv(o, pa);
        release(ring.v_empty(sp), lane);
        rescale(o, alpha);
        pack_p(sc);
      }
      // The segment's last P V.
      {
        const int sl = stage_of(ring, n - 1);
        mbar_wait(ring.v_full(sl), ring.parity(n - 1));
        if (!tma) fence_proxy_async();
        named_sync<256>(my_turn);
        wgmma_fence();
        issue_pv(o, pa, ring.v(sl));
        wgmma_commit();
        named_arrive<256>(other_turn);
        wgmma_wait<0>();
        pin_pv(o, pa);
        release(ring.v_empty(sl), lane);
      }
      next = n;
    }
    if (n_segments == 1) window_tail();
    epilogue(prm, walk, sm, o, q, q_ptr, h0, warp, lane, ct, w, b, h);
    // The Q buffer is free once every thread of the warpgroup has read its staged O (generic proxy; the next
    // item's Q lands there through TMA, the async proxy).
    named_sync<128>(kWsGroupBarrier + w);
    fence_proxy_async();
    release(ring.q_empty(), lane);
    return walk.n_tiles;
  }

  /// Turns across a CTA's work items: warpgroup 0 issues first (warpgroup 1's arrival before its first item),
  /// each hand-over then serves the next turn, also across items, and warpgroup 0 takes warpgroup 1's last
  /// hand-over after the last item, so every arrival on the turn barriers is matched.
  static __device__ __forceinline__ void turns_begin(int w) {
    if (w == 1) named_arrive<256>(kWsTurnBarrier);
  }
  static __device__ __forceinline__ void turns_end(int w) {
    if (w == 0) named_sync<256>(kWsTurnBarrier);
  }

  /// The staged O of the half at shared address `src` (origin h0: with TMA loads group-local = global) by one
  /// TMA store per 64-column block, the Q map's box in the O map (ws_box_coords, as the Q loads).
  static __device__ __forceinline__ void store_o_tma(const WsParams& prm, uint32_t src, const int (&h0)[3], uint32_t b,
                                                     int h) {
#pragma unroll
    for (int cb = 0; cb < Tr::kColBlocks; ++cb) {
      const uint32_t from = src + uint32_t(cb) * 64u * 128u;
      int x[5];
      ws_box_coords<kDims>(64 * cb, h, h0, b, prm.p.length[0], x);
      if constexpr (kDims == 1) tma_store_4d(&prm.tm_o, from, x[0], x[1], x[2], x[3]);
      else tma_store_5d(&prm.tm_o, from, x[0], x[1], x[2], x[3], x[4]);
    }
    bulk_commit();
  }

  /// O / l and LSE of this warpgroup's 64 rows (q: the Q half's shared address, q_ptr the same as a pointer).
  static __device__ __forceinline__ void epilogue(const WsParams& prm, const WsWalk<Tr>& walk, WsSoftmax<kBlocks>& sm,
                                                  const float (&o)[DT / 2], uint32_t q, uint8_t* q_ptr,
                                                  const int (&h0)[3], int warp, int lane, int ct, int w, uint32_t b,
                                                  int h) {
    using Elem = typename Tag::Storage;
    const NaProblem& p = prm.p;
    float inv[2], lse[2];
    sm.finish(inv, lse);
    const int grp = lane >> 2, tig = lane & 3;
    named_sync<128>(kWsGroupBarrier + w);  // every warp's products have finished reading the Q half
    uint32_t* const stage_o = reinterpret_cast<uint32_t*>(q_ptr);
#pragma unroll
    for (int i = 0; i < DT / 8; ++i) {
      const int r0 = 16 * warp + grp;
      stage_o[gmma_swizzle<kChunks, 64>(r0, i) * 4 + tig] = pack2(Tag{}, o[4 * i] * inv[0], o[4 * i + 1] * inv[0]);
      stage_o[gmma_swizzle<kChunks, 64>(r0 + 8, i) * 4 + tig] =
          pack2(Tag{}, o[4 * i + 2] * inv[1], o[4 * i + 3] * inv[1]);
    }
    const bool tma_store = prm.tma_store_o != 0;
    if (tma_store) fence_proxy_async();  // the staged O (generic writes) is read next by the TMA store
    named_sync<128>(kWsGroupBarrier + w);
    // A half wholly past axis 0's end stores nothing (in 3-D its box would land in the next batch).
    if (tma_store && ct == 0 && h0[0] < walk.ax[0].lg) store_o_tma(prm, q, h0, b, h);
    // Token of row n of the half, or -1 past the group's end.
    auto token_at = [&](int n) -> int64_t {
      int c[3] = {0, 0, 0};
#pragma unroll
      for (int a = 0; a < kDims; ++a) {
        const int l = h0[a] + QHalf::coord(n, a);
        if (l >= walk.ax[a].lg) return -1;
        c[a] = walk.ax[a].global(l);
      }
      return detail::token_of(p, b, c[0], c[1], c[2]);
    };
    Elem* const out = static_cast<Elem*>(prm.a.out);
    const int dv = int(p.head_dim_v), dv_chunks = dv / 8;
    const uint4* const staged = reinterpret_cast<const uint4*>(q_ptr);
    for (int idx = ct; !tma_store && idx < 64 * kChunks; idx += 128) {
      const int n = idx / kChunks, ch = idx % kChunks;
      if (ch >= dv_chunks) continue;
      const int64_t tok = token_at(n);
      if (tok < 0) continue;
      *reinterpret_cast<uint4*>(out + (tok * p.heads + h) * dv + ch * 8) = staged[gmma_swizzle<kChunks, 64>(n, ch)];
    }
    if (tig == 0 && prm.a.lse != nullptr) {
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int64_t tok = token_at(16 * warp + grp + 8 * r);
        if (tok >= 0) prm.a.lse[tok * p.heads + h] = lse[r];
      }
    }
    // The Q buffer may be refilled once the store has read it (the caller's barrier orders the release).
    if (tma_store && ct == 0) bulk_wait_read<0>();
  }
};

}  // namespace natten::fused
