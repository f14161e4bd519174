// The sm_90a warp-specialised fused forward ('wgmma-ws'): kernel entry and launch. The parts: tile walk
// (forward_ws_walk.cuh), ring (forward_ws_ring.cuh), producer (forward_ws_producer.cuh), consumers with
// masking, online softmax and epilogue (forward_ws_consumer.cuh, forward_ws_mask.cuh,
// forward_ws_softmax.cuh); sizes in forward_ws_traits.h, TMA maps in forward_ws_params.h, the 2-D strip
// configs' KV tile shape in forward_ws_strip.h; the host launcher in forward_ws_launch.cuh (apart, so that the
// CPU emulation compiles this header alone), the work-item plan in forward_ws_plan.cuh. A CTA walks one Q tile, or as a
// persistent CTA (at most one per SM) a share of them, loading the next tile's Q and K/V while it finishes the current
// one.
//
// Same contract as the other fused forward kernels (forward_kernel.cuh): layout [B, ...spatial, H, D], fp16 /
// bf16 with fp32 accumulation, every window option (dilation, stride, causal, GQA, additional keys), any
// D, Dv <= DT that are multiples of 8, O = softmax(scale Q K^T) V and LSE. Compiled for every target; the
// body exists only for sm_90a (elsewhere it traps, and the host launches it only on compute capability 9.0).
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "forward_ws_consumer.cuh"
#include "forward_ws_plan.cuh"
#include "forward_ws_producer.cuh"
#include "forward_ws_strip.h"
#include "forward_ws_traits.h"

namespace natten::fused {

template <class QTile, class KVTile, int DT, int Stages, class Tag>
__global__ void __launch_bounds__(WsTraits<QTile, KVTile, DT, Stages>::kThreads, 1)
    na_forward_ws_kernel(const __grid_constant__ WsParams prm) {
#if NATTEN_WGMMA_ENABLED
  using Tr = WsTraits<QTile, KVTile, DT, Stages>;
  extern __shared__ __align__(1024) uint8_t ws_smem[];
  WsRing<Tr> ring{smem_addr(ws_smem)};
  if (ring.base & 1023u) __trap();  // the swizzle atoms need 1024-byte alignment
  const int tid = threadIdx.x;
  if (tid == 0) ring.init(prm.use_tma ? 1u : 128u);
  if constexpr (Tr::kStrips) {
    WsRing<Tr>::zero_strip_padding(ws_smem, prm.strip[0] * prm.strip[1], tid);
    fence_proxy_async();  // generic writes, read by wgmma (async proxy)
  }
  __syncthreads();
  // Work items (Q tile slot, head, batch; slot fastest) blockIdx.x, + gridDim.x, ...: one per CTA, or a
  // persistent CTA's share (its producer loads the next item's Q and K/V while the consumers finish this one).
  // The producer warpgroup locates each item; producer warp 1 hands it to the consumers as a plan
  // (forward_ws_plan.cuh). Each role walks the items in its own loop after its setmaxnreg (a loop shared by
  // both roles would be compiled for the registers of neither).
  if (tid < 128) {
    regs_dec<Tr::kProducerRegs>();
    const bool planner = (tid >> 5) == 1;
    // With TMA one thread loads; of the other producer threads only warp 1 (the planner) has work.
    if (prm.use_tma && tid != 0 && !planner) return;
    for (int64_t item = blockIdx.x; item < prm.n_items; item += gridDim.x) {
      const int64_t rest = item / prm.n_slots;
      const uint32_t slot = uint32_t(item - rest * prm.n_slots);
      const int h = int(rest % prm.p.heads);
      const uint32_t b = uint32_t(rest / prm.p.heads);
      WsWalk<Tr> walk;
      if (!walk.init(prm.p, slot, prm.strip)) continue;  // empty slot of a short dilation group
      const int hkv = int(uint32_t(h) * uint32_t(prm.p.heads_kv) / uint32_t(prm.p.heads));
      if (planner) WsPlanner<Tr>::write(ring, ws_smem, walk, b, h, tid & 31);
      if (!prm.use_tma) WsProducer<Tr, Tag>::run_cp_async(prm, walk, ring, tid, b, h, hkv);
      else if (tid == 0) WsProducer<Tr, Tag>::run_tma(prm, walk, ring, b, h, hkv);
      ring.next_item(walk.n_tiles);
    }
    if (planner) WsPlanner<Tr>::finish(ring, ws_smem, tid & 31);
  } else {
    regs_inc<Tr::kConsumerRegs>();
    const int w = warp_uniform((tid >> 7) - 1);  // and so the Q half's descriptors
    bool turns = false;                          // the turn barriers are in use
    for (;;) {
      const WsPlan<Tr>& plan = *reinterpret_cast<const WsPlan<Tr>*>(ws_smem + ring.plan_offset());
      mbar_wait(ring.plan_full(), ring.q_parity());
      if (plan.done) break;
      if (!turns) WsConsumer<Tr, Tag, DT>::turns_begin(w);
      turns = true;
      ring.next_item(WsConsumer<Tr, Tag, DT>::run(prm, plan, ring, ws_smem, w, tid & 127));
    }
    if (turns) WsConsumer<Tr, Tag, DT>::turns_end(w);
    if (prm.tma_store_o && (tid & 127) == 0) bulk_wait<0>();  // this warpgroup's O stores have landed
  }
#else
  __trap();
#endif
}

/// The kernel parameters of one launch: problem, buffers, scale as the other forward kernels take it
/// (forward_params: a negative scale runs on -Q, 0 becomes 1e-30) and the TMA maps of this configuration's
/// boxes (use_tma = 0 where TMA cannot describe the problem).
template <class QTile, class KVTile, int DT, int Stages, class Tag>
WsParams ws_params(const NaProblem& p, const FusedForwardArgs& args) {
  using Tr = WsTraits<QTile, KVTile, DT, Stages>;
  WsParams prm{};
  prm.p = p;
  prm.a = args;
  const int q_ext[3] = {Tr::q_ext(0), Tr::q_ext(1), Tr::q_ext(2)};
  prm.n_slots = grid_slots(p, q_ext);
  prm.n_items = prm.n_slots * p.heads * p.batch;
  const ForwardParams fp = forward_params(p, args);
  prm.scale_log2 = fp.scale_log2;
  prm.negate_q = fp.negate_q;
  WsBoxes boxes{{Tr::QHalf::ext(0), Tr::QHalf::ext(1), Tr::QHalf::ext(2)},
                {Tr::KV::ext(0), Tr::KV::ext(1), Tr::KV::ext(2)},
                Tr::kKV};
  if constexpr (Tr::kStrips) {
    const StripShape st = ws_strip_shape(p, Tr::q_ext(0), Tr::q_ext(1), Tr::kKV);
    prm.strip[0] = boxes.kv[0] = st.rows;
    prm.strip[1] = boxes.kv[1] = st.cols;
  }
  ws_prepare_tma(prm, std::is_same_v<Tag, BF16> ? DType::BFloat16 : DType::Float16, boxes);
  return prm;
}

}  // namespace natten::fused
