// The KV-parallel walk of the fused backward, shared by the mma.sync kernel (fna_backward_kv.h) and the
// sm_90a wgmma kernel (fna_backward_wgmma_*.cuh): which KV tile a CTA owns and which Q tiles (or, in the
// extra-KV pass, which chunks of flattened query tokens) it visits, per query head of its KV head (GQA).
//
// Window pass: blockIdx.x is a grid slot of the KV tile shape (dilation groups folded in, tile_window.h);
// the Q tiles whose windows touch the KV tile form a box (tile_q_range per axis: the inverse window), and
// the pairs that need no element mask form a sub-box (interior_q_tiles). Extra pass: blockIdx.x is
// (extra tile, split); a split walks q_chunks_per_split chunks of BQ tokens.
#pragma once
#include <stdint.h>
#include "fna_backward_params.h"
#include "fna_backward_tile.h"

namespace natten::fused {

/// The search of window.h's contract (first x in [lo, hi) with a false-then-true pred, hi when none) run by a
/// whole warp: all 32 lanes call it with the same arguments and probe 32 points per round, so a range of
/// 32768 takes 3 dependent rounds instead of 15 bisection steps (the walk's set-up is one thread's latency).
struct WarpSearch {
  template <class Pred>
  __device__ __forceinline__ int operator()(int lo, int hi, Pred pred) const {
    const int lane = threadIdx.x & 31;
    while (lo < hi) {
      const int step = (hi - lo + 31) / 32;
      const int x = lo + lane * step;
      const unsigned m = __ballot_sync(~0u, x >= hi || pred(x));  // probes past hi count as true
      if (m == 0u) {
        lo += 31 * step + 1;  // every probe false: the answer lies past the last one
        continue;
      }
      const int f = __ffs(m) - 1;  // the answer lies in (probe f - 1, probe f]
      if (f == 0) return lo;
      hi = min(hi, lo + f * step);
      lo += (f - 1) * step + 1;
    }
    return lo;
  }
};

/// What a CTA walks: its KV tile and the Q tiles (or token chunks) it visits for each query head. Lives
/// in shared memory (uniform over the CTA), so it costs no registers in the hot loop.
struct BwdKvWalk {
  GroupAxes g;
  int k0[kMaxDims];      // KV tile origin (group-local); extra pass: k0[0] = first extra key
  int qfirst[kMaxDims];  // first Q tile index per axis of the box
  int qn[kMaxDims];      // Q tiles per axis of the box
  int ilo[kMaxDims];     // Q tile indices [ilo, ihi) per axis need no mask on that axis
  int ihi[kMaxDims];
  int64_t per_head;  // Q tiles (or chunks) per query head
  int64_t chunk0;    // extra pass: first chunk of this CTA
  bool empty;        // the CTA's slot lies past its (ragged) dilation group: nothing to do

  /// Fills the walk of CTA `slot` (blockIdx.x) for Q tiles / chunks of `bq` rows and KV tiles of
  /// `kv_rows` keys (prm.kv_tile in the window pass). One thread calls it (Bisect), or a whole warp
  /// (WarpSearch: every lane computes the same walk).
  template <class Search = Bisect>
  __device__ __forceinline__ void init(const BackwardParams& prm, bool extra, int64_t slot, int bq, int kv_rows,
                                       const Search& search = {}) {
    const NaProblem& p = prm.p;
    empty = false;
    per_head = 1;
    chunk0 = 0;
#pragma unroll
    for (int a = 0; a < kMaxDims; ++a) {  // one Q "tile" per axis in the extra pass: the cursor's axes stay put
      qfirst[a] = ilo[a] = 0;
      qn[a] = ihi[a] = 1;
    }
    if (extra) {
      const int split = (int)(slot % prm.extra_splits);
      k0[0] = (int)(slot / prm.extra_splits) * kv_rows;
      k0[1] = k0[2] = 0;
      const int64_t chunks = (p.tokens() + bq - 1) / bq;
      chunk0 = (int64_t)split * prm.q_chunks_per_split;
      const int64_t end = chunk0 + prm.q_chunks_per_split < chunks ? chunk0 + prm.q_chunks_per_split : chunks;
      per_head = end > chunk0 ? end - chunk0 : 0;
#pragma unroll
      for (int a = 0; a < kMaxDims; ++a) g.ax[a] = group_axis(p.axis(a), 0);
      return;
    }
    AxisSlot s[kMaxDims];
    decode_slots_3d(p, prm.kv_tile, slot, s);
#pragma unroll
    for (int a = 0; a < kMaxDims; ++a) {
      g.ax[a] = group_axis(p.axis(a), s[a].group);
      k0[a] = s[a].origin;
      if (k0[a] >= g.ax[a].lg) {
        empty = true;  // empty slot of a short (ragged) dilation group
        return;
      }
      const Range qr = tile_q_range(g.ax[a], k0[a], prm.kv_tile[a], search);
      qfirst[a] = qr.start / prm.q_tile[a];
      qn[a] = qr.end > qr.start ? ceil_div(qr.end, prm.q_tile[a]) - qfirst[a] : 0;
      per_head *= qn[a];
      const Range in = interior_q_tiles(g.ax[a], k0[a], prm.kv_tile[a], prm.q_tile[a], qfirst[a], qn[a], search);
      ilo[a] = in.start;
      ihi[a] = in.end;
    }
  }

  /// The CTA's walk into `dst` (shared memory), set up by its first warp together: threads 0-31 call this
  /// (their searches probe 32 points per round), the others read `dst` after the next __syncthreads.
  static __device__ __forceinline__ void init_by_first_warp(BwdKvWalk& dst, const BackwardParams& prm, bool extra,
                                                            int64_t slot, int bq, int kv_rows) {
    BwdKvWalk mine{};
    mine.init(prm, extra, slot, bq, kv_rows, WarpSearch{});
    if (threadIdx.x == 0) dst = mine;
  }
};

/// Walk step decoded: the query head, the Q tile's group-local origin (window pass) or first token (extra
/// pass), and whether the pair needs no element mask.
struct BwdKvStepAt {
  int h;
  int qo[kMaxDims];
  int64_t tok0;
  bool interior;
};

/// A position in the walk: the query head and the Q tile index per axis (window pass; last axis fastest) or
/// the chunk (extra pass, `ti`). seek() jumps to step `it` (divisions); next() moves one step on with carries
/// only, for loops that visit every step in order.
struct BwdKvCursor {
  int h = 0;
  int t[kMaxDims] = {0, 0, 0};
  int64_t ti = 0;  // step within the head

  __device__ __forceinline__ void seek(const BackwardParams& prm, const BwdKvWalk& w, int64_t it) {
    seek(prm, w, it, blockIdx.y);
  }
  /// seek() for KV head hk (a CTA that does not take its KV head from blockIdx.y: the persistent kernel).
  __device__ __forceinline__ void seek(const BackwardParams& prm, const BwdKvWalk& w, int64_t it, uint32_t hk) {
    h = (int)(it / w.per_head) + (int)(hk * (prm.p.heads / prm.p.heads_kv));
    ti = it % w.per_head;
    int64_t rest = ti;
#pragma unroll
    for (int a = kMaxDims - 1; a >= 0; --a) {
      t[a] = w.qfirst[a] + (int)(rest % w.qn[a]);
      rest /= w.qn[a];
    }
  }
  __device__ __forceinline__ void next(const BwdKvWalk& w) {
    if (++ti == w.per_head) {
      ti = 0;
      ++h;
#pragma unroll
      for (int a = 0; a < kMaxDims; ++a) t[a] = w.qfirst[a];
      return;
    }
#pragma unroll
    for (int a = kMaxDims - 1; a >= 0; --a) {
      if (++t[a] < w.qfirst[a] + w.qn[a]) return;
      t[a] = w.qfirst[a];
    }
  }
  /// The step here. `kv_rows`: keys per KV tile (the extra pass's last tile may be partial, so not interior).
  __device__ __forceinline__ BwdKvStepAt at(const BackwardParams& prm, const BwdKvWalk& w, bool extra, int bq,
                                            int kv_rows) const {
    BwdKvStepAt s;
    s.h = h;
    s.tok0 = extra ? (w.chunk0 + ti) * bq : 0;
    s.interior = extra ? w.k0[0] + kv_rows <= prm.p.n_extra : true;
#pragma unroll
    for (int a = 0; a < kMaxDims; ++a) {
      s.qo[a] = extra ? 0 : t[a] * prm.q_tile[a];
      if (!extra) s.interior = s.interior && t[a] >= w.ilo[a] && t[a] < w.ihi[a];
    }
    return s;
  }
};

}  // namespace natten::fused
