// The work-item plan of the 'wgmma-ws' forward: what a consumer warpgroup needs to know about its next work
// item before its first product, computed ahead by producer warp 1 and handed over in shared memory.
//
// Locating a work item (its batch, head, dilation groups, Q tile origin and KV walk) and the windows of its
// queries takes dozens of integer divisions (runtime lengths, strides, dilations, grid extents) and
// branchy window arithmetic: about 1,400 dependent instructions per consumer warp per item, during which
// neither consumer warpgroup issues a product (both start an item together). Producer warp 1 has nothing
// else to do with TMA loads, so it computes each item's plan while the consumers still work on the one
// before, and the consumers start with a few shared-memory loads:
//   walk      the item's WsWalk (forward_ws_walk.cuh), batch and head;
//   windows   window(q0[a] + i) for every coordinate i < q_ext(a) of the CTA's Q tile on every axis (the
//             windows of every query row, both halves, and of their first and last rows);
//   done      set in the buffer after the CTA's last item: the consumers leave their loop.
// Plans alternate between two buffers with the Q buffers (ring.item % 2): plan_full[i] (32 arrivals, warp
// 1's lanes) says buffer i holds the current item's plan; the buffer is free again when Q buffer i is
// (q_empty[i]: the consumers release Q after their epilogue, by when they have read the plan).
#pragma once
#include <stdint.h>

#include "forward_ws_params.h"
#include "forward_ws_ring.cuh"
#include "forward_ws_traits.h"
#include "forward_ws_walk.cuh"

namespace natten::fused {

template <class Tr>
struct WsPlan {
  /// The first window entry of axis a: axes one after another, q_ext(a) entries each.
  static NATTEN_HD constexpr int win_offset(int a) {
    return a == 0 ? 0 : a == 1 ? Tr::q_ext(0) : Tr::q_ext(0) + Tr::q_ext(1);
  }
  static constexpr int kWindows = Tr::q_ext(0) + Tr::q_ext(1) + Tr::q_ext(2);

  WsWalk<Tr> walk;
  uint32_t b;
  int h;
  int done;
  Range windows[kWindows];

  /// Window of the query at group-local coordinate q0[a] + i on axis a (0 <= i < q_ext(a)).
  __device__ __forceinline__ Range window(int a, int i) const { return windows[win_offset(a) + i]; }
};

/// Producer warp 1's side: one plan per work item, then the done marker.
template <class Tr>
struct WsPlanner {
  using Plan = WsPlan<Tr>;
  static_assert(sizeof(Plan) <= Tr::kPlanBytes, "a plan fits its shared-memory buffer (WsTraits::kPlanBytes)");

  /// Waits until the current item's plan buffer is free (its previous item's consumers are done with it).
  static __device__ __forceinline__ Plan* acquire(const WsRing<Tr>& ring, uint8_t* smem) {
    if (ring.item >= 2) mbar_wait(ring.q_empty(), ring.q_parity() ^ 1u);
    return reinterpret_cast<Plan*>(smem + ring.plan_offset());
  }

  /// Writes the current item's plan (the 32 lanes of warp 1 together) and hands it over.
  static __device__ __forceinline__ void write(const WsRing<Tr>& ring, uint8_t* smem, const WsWalk<Tr>& walk,
                                               uint32_t b, int h, int lane) {
    Plan* plan = acquire(ring, smem);
    if (lane == 0) {
      plan->walk = walk;
      plan->b = b;
      plan->h = h;
      plan->done = 0;
    }
#pragma unroll
    for (int a = 0; a < Tr::kDims; ++a)
      for (int i = lane; i < Tr::q_ext(a); i += 32)
        plan->windows[Plan::win_offset(a) + i] = walk.ax[a].window(walk.q0[a] + i);
    mbar_arrive(ring.plan_full());
  }

  /// After the CTA's last item: the done marker in the next buffer.
  static __device__ __forceinline__ void finish(const WsRing<Tr>& ring, uint8_t* smem, int lane) {
    Plan* plan = acquire(ring, smem);
    if (lane == 0) plan->done = 1;
    mbar_arrive(ring.plan_full());
  }
};

}  // namespace natten::fused
