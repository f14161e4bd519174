// The shared-memory ring of the 'wgmma-ws' forward: addresses of the Q halves, the K/V stages and their
// mbarriers (forward_ws_traits.h has the layout), and the phase bookkeeping of tile t.
//
// Protocol, per stage s (tile t uses stage t % Stages, phase (t / Stages) & 1):
//   k_full[s], v_full[s]: the producer's loads of K / V landed (TMA: one arrive.expect_tx and the copies'
//                         bytes; cp.async: one .noinc arrival per producer thread);
//   k_empty[s]:           lane 0 of every consumer warp arrives once its S = Q K^T product on the stage
//                         finished; the producer waits for it before loading K of tile t + Stages there;
//   v_empty[s]:           the same once its P V product finished, before V of tile t + Stages.
// K and V are freed separately because the consumers read them one tile apart (S(t) is issued with
// P(t-1) V(t-1)): one barrier for both would hold K(t) until P(t) V(t) finished, and with 2 stages K(t + 2)
// could then only start loading when the consumers already wait for it.
//   q_full[i], q_empty[i]: Q buffer i landed (both halves) / both consumers are done with it (their epilogue
//                         stages O there): work items alternate between the two buffers, so the producer
//                         loads the next item's Q while the consumers finish this one.
//   plan_full[i]:         plan buffer i holds the current item's plan (forward_ws_plan.cuh; 32 arrivals,
//                         producer warp 1); the buffer is free again with Q buffer i (q_empty[i]).
// A persistent CTA walks several work items: stages and phases run on across them (tile_base).
#pragma once
#include <stdint.h>

#include "../../runtime/sm90_ws.h"

namespace natten::fused {

template <class Tr>
struct WsRing {
  uint32_t base;      // shared-memory address of the dynamic shared memory (1024-byte aligned)
  int tile_base = 0;  // K/V tiles of this CTA's earlier work items: the ring runs on across items
  int item = 0;       // this CTA's work items so far: the current one's Q buffer is item % 2

  __device__ __forceinline__ uint32_t q_half(int w) const {
    return base + Tr::kQOff + (item & 1) * Tr::kQBufBytes + w * Tr::kQHalfBytes;
  }
  /// Offset of the current item's Q half w from the start of the dynamic shared memory.
  __device__ __forceinline__ uint32_t q_half_offset(int w) const { return q_half(w) - base; }
  __device__ __forceinline__ uint32_t k(int s) const { return base + Tr::kKOff + s * Tr::kKVBytes; }
  __device__ __forceinline__ uint32_t v(int s) const { return base + Tr::kVOff + s * Tr::kKVBytes; }
  /// Q buffer i's barriers (q_full / q_empty: the current item's).
  __device__ __forceinline__ uint32_t q_full_of(int i) const { return base + Tr::kBarOff + 8u * i; }
  __device__ __forceinline__ uint32_t q_empty_of(int i) const { return base + Tr::kBarOff + 8u * (2 + i); }
  __device__ __forceinline__ uint32_t q_full() const { return q_full_of(item & 1); }
  __device__ __forceinline__ uint32_t q_empty() const { return q_empty_of(item & 1); }
  /// The current item's plan buffer: its barrier and its offset in the dynamic shared memory.
  __device__ __forceinline__ uint32_t plan_full_of(int i) const {
    return base + Tr::kBarOff + 8u * (4 + 4 * Tr::kStages + i);
  }
  __device__ __forceinline__ uint32_t plan_full() const { return plan_full_of(item & 1); }
  __device__ __forceinline__ uint32_t plan_offset() const { return Tr::kPlanOff + (item & 1) * Tr::kPlanBytes; }
  /// Phase parity of the current item's Q buffer (each buffer serves every other item).
  __device__ __forceinline__ uint32_t q_parity() const { return static_cast<uint32_t>(item >> 1) & 1u; }
  __device__ __forceinline__ uint32_t k_full(int s) const { return base + Tr::kBarOff + 8u * (4 + s); }
  __device__ __forceinline__ uint32_t v_full(int s) const { return base + Tr::kBarOff + 8u * (4 + Tr::kStages + s); }
  __device__ __forceinline__ uint32_t k_empty(int s) const {
    return base + Tr::kBarOff + 8u * (4 + 2 * Tr::kStages + s);
  }
  __device__ __forceinline__ uint32_t v_empty(int s) const {
    return base + Tr::kBarOff + 8u * (4 + 3 * Tr::kStages + s);
  }

  /// Initialises every barrier (one thread): the full barriers complete after `full_arrivals` arrivals
  /// (1 with TMA, 128 with cp.async) and their bytes.
  __device__ __forceinline__ void init(uint32_t full_arrivals) const {
    for (int i = 0; i < 2; ++i) {
      mbar_init(q_full_of(i), full_arrivals);
      mbar_init(q_empty_of(i), Tr::kEmptyArrivals);
      mbar_init(plan_full_of(i), 32);
    }
#pragma unroll
    for (int s = 0; s < Tr::kStages; ++s) {
      mbar_init(k_full(s), full_arrivals);
      mbar_init(v_full(s), full_arrivals);
      mbar_init(k_empty(s), Tr::kEmptyArrivals);
      mbar_init(v_empty(s), Tr::kEmptyArrivals);
    }
    mbar_init_fence();
  }

  /// Zeroes rows keys..|KV|-1 of every K and V stage (all threads of the CTA, once; smem: the dynamic shared
  /// memory): a strip tile of fewer keys than |KV| never writes them, and its masked columns must meet
  /// finite K and V there (0 x NaN).
  static __device__ __forceinline__ void zero_strip_padding(uint8_t* smem, int keys, int tid) {
    const int pad = Tr::kKV - keys;                                // rows per column block
    const int units = 2 * Tr::kStages * Tr::kColBlocks * pad * 8;  // 16-byte units
    for (int i = tid; i < units; i += Tr::kThreads) {
      const int row = keys + (i >> 3) % pad, rest = (i >> 3) / pad;
      const int cb = rest % Tr::kColBlocks, buf = rest / Tr::kColBlocks;  // buf: K stages, then V stages
      const uint32_t off = Tr::kKOff + uint32_t(buf) * Tr::kKVBytes + uint32_t(cb) * Tr::kKV * 128u +
                           uint32_t(row) * 128u + uint32_t(i & 7) * 16u;
      *reinterpret_cast<uint4*>(smem + off) = uint4{0u, 0u, 0u, 0u};
    }
  }

  /// Stage and phase parity of the current item's tile t.
  __device__ __forceinline__ int stage(int t) const { return (tile_base + t) % Tr::kStages; }
  __device__ __forceinline__ uint32_t parity(int t) const {
    return static_cast<uint32_t>((tile_base + t) / Tr::kStages) & 1u;
  }
  /// Whether the current item's tile t reuses a stage (the ring has gone round once).
  __device__ __forceinline__ bool reuses(int t) const { return tile_base + t >= Tr::kStages; }
  /// Moves on past the current item, which walked n_tiles tiles.
  __device__ __forceinline__ void next_item(int n_tiles) {
    tile_base += n_tiles;
    ++item;
  }
};

}  // namespace natten::fused
