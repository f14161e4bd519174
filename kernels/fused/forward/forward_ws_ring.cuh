// The shared-memory ring of the 'wgmma-ws' forward: addresses of the Q halves, the K/V stages and their
// mbarriers (forward_ws_traits.h has the plan), and the phase bookkeeping of tile t.
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
//   q_full:               Q landed (both halves; once per CTA).
#pragma once
#include <stdint.h>

#include "../../runtime/sm90_ws.h"

namespace natten::fused {

template <class Tr>
struct WsRing {
  uint32_t base;  // shared-memory address of the dynamic shared memory (1024-byte aligned)

  __device__ __forceinline__ uint32_t q_half(int w) const { return base + Tr::kQOff + w * Tr::kQHalfBytes; }
  __device__ __forceinline__ uint32_t k(int s) const { return base + Tr::kKOff + s * Tr::kKVBytes; }
  __device__ __forceinline__ uint32_t v(int s) const { return base + Tr::kVOff + s * Tr::kKVBytes; }
  __device__ __forceinline__ uint32_t q_full() const { return base + Tr::kBarOff; }
  __device__ __forceinline__ uint32_t k_full(int s) const { return base + Tr::kBarOff + 8u * (1 + s); }
  __device__ __forceinline__ uint32_t v_full(int s) const { return base + Tr::kBarOff + 8u * (1 + Tr::kStages + s); }
  __device__ __forceinline__ uint32_t k_empty(int s) const {
    return base + Tr::kBarOff + 8u * (1 + 2 * Tr::kStages + s);
  }
  __device__ __forceinline__ uint32_t v_empty(int s) const {
    return base + Tr::kBarOff + 8u * (1 + 3 * Tr::kStages + s);
  }

  /// Initialises every barrier (one thread): the full barriers complete after `full_arrivals` arrivals
  /// (1 with TMA, 128 with cp.async) and their bytes.
  __device__ __forceinline__ void init(uint32_t full_arrivals) const {
    mbar_init(q_full(), full_arrivals);
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

  /// Stage and phase parity of tile t.
  static __device__ __forceinline__ int stage(int t) { return t % Tr::kStages; }
  static __device__ __forceinline__ uint32_t parity(int t) { return static_cast<uint32_t>(t / Tr::kStages) & 1u; }
};

}  // namespace natten::fused
