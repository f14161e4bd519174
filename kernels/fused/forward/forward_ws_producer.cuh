// Producer warpgroup of the 'wgmma-ws' forward: loads the CTA's Q tile once, then K and V of every KV tile
// of the walk (forward_ws_walk.cuh) into the ring (forward_ws_ring.cuh), waiting for a stage to be freed
// before refilling it.
//   TMA (use_tma): one thread issues one bulk tensor copy per 64-column block of each tile (the
//     multi-dimensional box of forward_ws_params.h); the copies complete the stage's barrier by bytes.
//   cp.async (dilation > 1): the 128 threads copy 16-byte chunks into the same swizzled layout (the mma /
//     wgmma kernels' loaders, forward_kernel.cuh) and each arrives on the barrier when its copies land.
#pragma once
#include <stdint.h>

#include <type_traits>

#include "forward_kernel.cuh"
#include "forward_ws_params.h"
#include "forward_ws_ring.cuh"
#include "forward_ws_traits.h"
#include "forward_ws_walk.cuh"

namespace natten::fused {

/// Layout L with rows shifted by Off: a slab of a tile written through the whole tile's layout.
template <class L, int Off>
struct RowShift {
  static __device__ __forceinline__ int unit(int row, int chunk) { return L::unit(row + Off, chunk); }
};

template <class Tr, class Tag>
struct WsProducer {
  using Elem = typename Tag::Storage;
  using Ring = WsRing<Tr>;
  static constexpr int kDims = Tr::kDims;
  static constexpr int kChunks = Tr::kChunks;
  static constexpr uint32_t kColBlockBytes(int rows) { return uint32_t(rows) * 128u; }

  /// One TMA box of a spatial tensor: column block starting at element `col`, head `head`, tile origin c
  /// (dilation 1: group-local = global), batch b. Coordinates as the map's dimensions (innermost first).
  static __device__ __forceinline__ void box(const CUtensorMap* map, uint32_t dst, uint32_t bar, int col, int head,
                                             const int (&c)[3], uint32_t b, int length0) {
    int x[5];
    ws_box_coords<kDims>(col, head, c, b, length0, x);
    if constexpr (kDims == 1) tma_load_4d(dst, map, bar, x[0], x[1], x[2], x[3]);
    else tma_load_5d(dst, map, bar, x[0], x[1], x[2], x[3], x[4]);
  }

  /// The whole load sequence by one thread with TMA.
  static __device__ __forceinline__ void run_tma(const WsParams& prm, const WsWalk<Tr>& w, const Ring& ring, uint32_t b,
                                                 int h, int hkv) {
    tma_prefetch(&prm.tm_q);
    tma_prefetch(&prm.tm_k);
    tma_prefetch(&prm.tm_v);
    const int l0 = prm.p.length[0];
    if (ring.item >= 2) mbar_wait(ring.q_empty(), ring.q_parity() ^ 1u);
    mbar_arrive_expect_tx(ring.q_full(), 2 * Tr::kQHalfBytes);
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      int h0[3];
      w.half_origin(half, h0);
#pragma unroll
      for (int cb = 0; cb < Tr::kColBlocks; ++cb)
        box(&prm.tm_q, ring.q_half(half) + cb * kColBlockBytes(64), ring.q_full(), 64 * cb, h, h0, b, l0);
    }
    // A window tile's box: |KV| rows per column block, or a strip's rows x cols (forward_ws_strip.h).
    const uint32_t window_bytes = uint32_t(w.window_tile_keys()) * (Tr::kColBlocks * 128u);
    for (int t = 0; t < w.n_tiles; ++t) {
      const int s = ring.stage(t);
      const bool reuse = ring.reuses(t);
      if (reuse) mbar_wait(ring.k_empty(s), ring.parity(t) ^ 1u);
      if (t < w.n_window_tiles) {
        mbar_arrive_expect_tx(ring.k_full(s), window_bytes);
        int ko[3];
        w.origin(t, ko);
#pragma unroll
        for (int cb = 0; cb < Tr::kColBlocks; ++cb)
          box(&prm.tm_k, ring.k(s) + cb * kColBlockBytes(Tr::kKV), ring.k_full(s), 64 * cb, hkv, ko, b, l0);
        if (reuse) mbar_wait(ring.v_empty(s), ring.parity(t) ^ 1u);
        mbar_arrive_expect_tx(ring.v_full(s), window_bytes);
#pragma unroll
        for (int cb = 0; cb < Tr::kColBlocks; ++cb)
          box(&prm.tm_v, ring.v(s) + cb * kColBlockBytes(Tr::kKV), ring.v_full(s), 64 * cb, hkv, ko, b, l0);
      } else {
        mbar_arrive_expect_tx(ring.k_full(s), Tr::kKVBytes);
        const int e0 = w.extra_first(t);
#pragma unroll
        for (int cb = 0; cb < Tr::kColBlocks; ++cb)
          tma_load_4d(ring.k(s) + cb * kColBlockBytes(Tr::kKV), &prm.tm_ek, ring.k_full(s), 64 * cb, hkv, e0, int(b));
        if (reuse) mbar_wait(ring.v_empty(s), ring.parity(t) ^ 1u);
        mbar_arrive_expect_tx(ring.v_full(s), Tr::kKVBytes);
#pragma unroll
        for (int cb = 0; cb < Tr::kColBlocks; ++cb)
          tma_load_4d(ring.v(s) + cb * kColBlockBytes(Tr::kKV), &prm.tm_ev, ring.v_full(s), 64 * cb, hkv, e0, int(b));
      }
    }
  }

  /// The whole load sequence by the 128 producer threads (thread ptid) with cp.async.
  static __device__ __forceinline__ void run_cp_async(const WsParams& prm, const WsWalk<Tr>& w, const Ring& ring,
                                                      int ptid, uint32_t b, int h, int hkv) {
    const NaProblem& p = prm.p;
    const int dqk = int(p.head_dim), dv = int(p.head_dim_v);
    // Token of group-local (0, 0, 0) of the CTA's groups and the token step per group-local unit per axis.
    int64_t tstride[3] = {0, 0, 0}, tok0 = 0;
    {
      int64_t inner = 1;
#pragma unroll
      for (int a = kDims - 1; a >= 0; --a) {
        tstride[a] = inner * p.dilation[a];
        tok0 += inner * w.ax[a].group;
        inner *= p.length[a];
      }
      tok0 += int64_t(b) * inner;
    }
    const int row = ptid / kChunks;  // this thread's base row of a tile
    // Rows of a box at group-local origin o (lim: rows left per axis before `end`), as the loader wants them.
    auto place = [&](auto tile, const int(&o)[3], const int(&end)[3], int(&lim)[3]) {
      using Tile = decltype(tile);
      int64_t tok = tok0;
#pragma unroll
      for (int a = 0; a < 3; ++a) lim[a] = 1;
#pragma unroll
      for (int a = 0; a < kDims; ++a) {
        const int c = o[a] + Tile::coord(row, a);
        lim[a] = end[a] - c;
        tok += c * tstride[a];
      }
      return tok;
    };
    if (ring.item >= 2) mbar_wait(ring.q_empty(), ring.q_parity() ^ 1u);
    {
      const Elem* q = static_cast<const Elem*>(prm.a.q);
      const int64_t q_row = p.heads * dqk;
      const int64_t estride[3] = {tstride[0] * q_row, tstride[1] * q_row, tstride[2] * q_row};
      const int end[3] = {w.ax[0].lg, w.ax[1].lg, w.ax[2].lg};
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        int h0[3], lim[3];
        w.half_origin(half, h0);
        const int64_t tok = place(typename Tr::QHalf{}, h0, end, lim);
        detail::load_spatial_tile<typename Tr::QHalf, kChunks, 128, GmmaSwizzle<kChunks, 64>>(
            ring.q_half(half), ptid, q, q + int64_t(h) * dqk + tok * q_row, estride, lim, dqk / 8);
      }
      cp_async_mbar_arrive(ring.q_full());
    }
    // KV tiles go in slabs of 64 rows (WsTraits::slab_ext): half the unrolled address math per call, which keeps
    // the producer's 56 registers free of spills.
    using KVLayout = GmmaSwizzle<kChunks, Tr::kKV>;
    constexpr int kSlabAxis = Tr::kSlabAxis;
    using Slab = std::conditional_t<Tr::kStrips, RasterBox<kDims, 1, 64, 1>,  // strips: strip_tile instead
                                    RasterBox<kDims, Tr::slab_ext(0), Tr::slab_ext(1), Tr::slab_ext(2)>>;
    static_assert(Slab::kSize == 64, "64-row slabs");
    const int64_t k_row = p.heads_kv * dqk, v_row = p.heads_kv * dv;
    const Elem* k = static_cast<const Elem*>(prm.a.k);
    const Elem* v = static_cast<const Elem*>(prm.a.v);
    auto window_slab = [&](auto shift, int s, const int(&ko)[3]) {
      using Layout = RowShift<KVLayout, decltype(shift)::value>;
      int o[3] = {ko[0], ko[1], ko[2]}, lim[3];
      o[kSlabAxis] += decltype(shift)::value / 64 * Slab::ext(kSlabAxis);
      const int64_t tok = place(Slab{}, o, w.kv_hi, lim);
      int64_t estride[3] = {tstride[0] * k_row, tstride[1] * k_row, tstride[2] * k_row};
      detail::load_spatial_tile<Slab, kChunks, 128, Layout>(ring.k(s), ptid, k, k + int64_t(hkv) * dqk + tok * k_row,
                                                            estride, lim, dqk / 8);
#pragma unroll
      for (int a = 0; a < 3; ++a) estride[a] = tstride[a] * v_row;
      detail::load_spatial_tile<Slab, kChunks, 128, Layout>(ring.v(s), ptid, v, v + int64_t(hkv) * dv + tok * v_row,
                                                            estride, lim, dv / 8);
    };
    auto extra_slab = [&](auto shift, int s, int e0) {
      using Layout = RowShift<KVLayout, decltype(shift)::value>;
      const int first = e0 + decltype(shift)::value;
      const Elem* ek = static_cast<const Elem*>(prm.a.extra_k) + (int64_t(b) * w.n_extra * p.heads_kv + hkv) * dqk;
      const Elem* ev = static_cast<const Elem*>(prm.a.extra_v) + (int64_t(b) * w.n_extra * p.heads_kv + hkv) * dv;
      detail::load_linear_tile<64, kChunks, 128, Layout>(ring.k(s), ptid, ek, first, w.n_extra, k_row, dqk / 8);
      detail::load_linear_tile<64, kChunks, 128, Layout>(ring.v(s), ptid, ev, first, w.n_extra, v_row, dv / 8);
    };
    // A strip tile (strip configs): key j is row ko[0] + j / cols, column ko[1] + j % cols; keys past the
    // group's edge and rows past the strip's keys are zero-filled.
    auto strip_tile = [&](int s, const int(&ko)[3]) {
      const int keys = w.window_tile_keys();
      const int chunk = ptid % kChunks;
      for (int j = ptid / kChunks; j < Tr::kKV; j += 128 / kChunks) {
        const int l0 = ko[0] + j / w.strip[1], l1 = ko[1] + j % w.strip[1];
        const bool in = j < keys && l0 < w.ax[0].lg && l1 < w.ax[1].lg;
        const int64_t tok = tok0 + l0 * tstride[0] + l1 * tstride[1];
        const uint32_t unit = 16u * KVLayout::unit(j, chunk);
        const bool k_ok = in && chunk < dqk / 8, v_ok = in && chunk < dv / 8;
        cp_async_16(ring.k(s) + unit, k_ok ? k + int64_t(hkv) * dqk + tok * k_row + chunk * 8 : k, k_ok);
        cp_async_16(ring.v(s) + unit, v_ok ? v + int64_t(hkv) * dv + tok * v_row + chunk * 8 : v, v_ok);
      }
    };
    // An additional-key tile of a strip config (|KV| need not be 64 or 128): keys past n_extra zero-filled.
    // A rolled loop rather than detail::load_linear_tile<|KV|>: its fully unrolled passes spill up to 140 B
    // more of the producer's 56 registers (80- and 128-key strips at tier 128).
    auto strip_extra = [&](int s, int e0) {
      const int chunk = ptid % kChunks;
      const Elem* ek = static_cast<const Elem*>(prm.a.extra_k) + (int64_t(b) * w.n_extra * p.heads_kv + hkv) * dqk;
      const Elem* ev = static_cast<const Elem*>(prm.a.extra_v) + (int64_t(b) * w.n_extra * p.heads_kv + hkv) * dv;
      for (int j = ptid / kChunks; j < Tr::kKV; j += 128 / kChunks) {
        const int e = e0 + j;
        const uint32_t unit = 16u * KVLayout::unit(j, chunk);
        const bool k_ok = e < w.n_extra && chunk < dqk / 8, v_ok = e < w.n_extra && chunk < dv / 8;
        cp_async_16(ring.k(s) + unit, k_ok ? ek + int64_t(e) * k_row + chunk * 8 : ek, k_ok);
        cp_async_16(ring.v(s) + unit, v_ok ? ev + int64_t(e) * v_row + chunk * 8 : ev, v_ok);
      }
    };
    using First = std::integral_constant<int, 0>;
    using Second = std::integral_constant<int, 64>;
    for (int t = 0; t < w.n_tiles; ++t) {
      const int s = ring.stage(t);
      // K and V of a stage load and complete together here (one arrival on each barrier once all copies
      // landed), so the stage waits for both releases (V's comes after K's; K's is waited on too, as every
      // completed phase of an mbarrier must be before the next one's arrivals).
      if (ring.reuses(t)) {
        mbar_wait(ring.k_empty(s), ring.parity(t) ^ 1u);
        mbar_wait(ring.v_empty(s), ring.parity(t) ^ 1u);
      }
      if (t < w.n_window_tiles) {
        int ko[3];
        w.origin(t, ko);
        if constexpr (Tr::kStrips) {
          strip_tile(s, ko);
        } else {
          window_slab(First{}, s, ko);
          if constexpr (Tr::kKV == 128) window_slab(Second{}, s, ko);
        }
      } else if constexpr (Tr::kStrips) {
        strip_extra(s, w.extra_first(t));
      } else {
        const int e0 = w.extra_first(t);
        extra_slab(First{}, s, e0);
        if constexpr (Tr::kKV == 128) extra_slab(Second{}, s, e0);
      }
      cp_async_mbar_arrive(ring.k_full(s));
      cp_async_mbar_arrive(ring.v_full(s));
    }
    cp_async_wait_all();  // every arrival has fired before the thread exits
  }
};

}  // namespace natten::fused
