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
  /// `kv_rows` keys (prm.kv_tile in the window pass). One thread calls it.
  __device__ __forceinline__ void init(const BackwardParams& prm, bool extra, int64_t slot, int bq, int kv_rows) {
    const NaProblem& p = prm.p;
    empty = false;
    per_head = 1;
    chunk0 = 0;
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
      const Range qr = tile_q_range(g.ax[a], k0[a], prm.kv_tile[a]);
      qfirst[a] = qr.start / prm.q_tile[a];
      qn[a] = qr.end > qr.start ? ceil_div(qr.end, prm.q_tile[a]) - qfirst[a] : 0;
      per_head *= qn[a];
      const Range in = interior_q_tiles(g.ax[a], k0[a], prm.kv_tile[a], prm.q_tile[a], qfirst[a], qn[a]);
      ilo[a] = in.start;
      ihi[a] = in.end;
    }
  }
};

/// Walk step `it` decoded: the query head, the Q tile's group-local origin (window pass) or first token
/// (extra pass), and whether the pair needs no element mask.
struct BwdKvStepAt {
  int h;
  int qo[kMaxDims];
  int64_t tok0;
  bool interior;

  /// `kv_rows`: keys per KV tile (the extra pass's last tile may be partial, so not interior).
  __device__ __forceinline__ BwdKvStepAt(const BackwardParams& prm, const BwdKvWalk& w, bool extra, int64_t it,
                                         int bq, int kv_rows) {
    const NaProblem& p = prm.p;
    h = (int)(it / w.per_head) + (int)(blockIdx.y * (p.heads / p.heads_kv));
    const int64_t ti = it % w.per_head;
    qo[0] = qo[1] = qo[2] = 0;
    tok0 = 0;
    if (extra) {
      tok0 = (w.chunk0 + ti) * bq;
      interior = w.k0[0] + kv_rows <= p.n_extra;
      return;
    }
    int64_t rest = ti;
    interior = true;
#pragma unroll
    for (int a = kMaxDims - 1; a >= 0; --a) {
      const int t = w.qfirst[a] + (int)(rest % w.qn[a]);
      rest /= w.qn[a];
      qo[a] = t * prm.q_tile[a];
      interior = interior && t >= w.ilo[a] && t < w.ihi[a];
    }
  }
};

}  // namespace natten::fused
