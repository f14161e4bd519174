// The sm_90a fused backward on wgmma (backwardKernel 'wgmma'): the kernel entries of the KV-parallel main pass
// (one KV tile per CTA, and the persistent variant behind a kernel switch); fna_backward_wgmma_launch.cuh
// launches them. The parts: the plan (fna_backward_wgmma_smem.h), the walk (fna_backward_walk.h, shared with
// the mma.sync kernel), the producer (fna_backward_wgmma_producer.cuh) and the consumers
// (fna_backward_wgmma_consumer.cuh). The other passes (Delta, extra-KV split reduction, dQ convert or the
// deterministic Q-parallel dQ kernel) are the mma backward's (fna_backward_kernels.h).
//
// Compiled for every target; the body exists only for sm_90a (elsewhere it traps, and the host launches
// it only on compute capability 9.0).
#pragma once
#include <stdint.h>

#include "fna_backward_wgmma_consumer.cuh"
#include "fna_backward_wgmma_producer.cuh"

namespace natten::fused {

#if NATTEN_WGMMA_ENABLED
/// The CTA's shared plan, its base aligned to 1024 bytes (the swizzle atoms need it: the launch adds that much
/// slack).
template <class Smem>
__device__ __forceinline__ Smem& bwd_wg_shared() {
  extern __shared__ __align__(1024) unsigned char bwd_wg_smem[];
  return *reinterpret_cast<Smem*>(bwd_wg_smem + ((1024u - (smem_addr(bwd_wg_smem) & 1023u)) & 1023u));
}

/// What every CTA sets up before its first __syncthreads: the mbarriers (the persistent kernel's walk and KV
/// hand-back barriers too) and the per-row offsets of the Q and KV tiles.
template <class Smem>
__device__ __forceinline__ void bwd_wg_setup(Smem& sm, const BackwardParams& prm, int tid, bool persistent) {
  if (tid == 0) {
    mbar_init(smem_addr(&sm.kv_full), 128);
#pragma unroll
    for (int s = 0; s < kBwdWgStages; ++s) {
      mbar_init(smem_addr(&sm.full[s]), kBwdWgFullArrivals);
      mbar_init(smem_addr(&sm.empty[s]), kBwdWgEmptyArrivals);
    }
    if (persistent) {
      mbar_init(smem_addr(&sm.kv_empty), kBwdWgEmptyArrivals);
#pragma unroll
      for (int w = 0; w < 2; ++w) {
        mbar_init(smem_addr(&sm.walk_full[w]), 1);
        mbar_init(smem_addr(&sm.walk_empty[w]), kBwdWgEmptyArrivals);
      }
    }
    mbar_init_fence();
  }
  for (int r = tid; r < kBwdWgQRows; r += kBwdWgThreads) sm.rowq[r] = pack_tile_row(r, prm.q_tile);
  for (int r = tid; r < kBwdWgKvRows; r += kBwdWgThreads) sm.rowk[r] = pack_tile_row(r, prm.kv_tile);
  if (tid < kMaxDims) sm.half_tile[tid] = tid == 0 ? prm.kv_tile[0] / 2 : prm.kv_tile[tid];
}
#endif

template <class Tag, int DT>
__global__ void __launch_bounds__(kBwdWgThreads, 1) fna_backward_wgmma_kernel(const BackwardParams prm, int extra,
                                                                             const __grid_constant__ BwdWgMaps maps) {
#if NATTEN_WGMMA_ENABLED
  using Smem = BwdWgSmem<Tag, DT>;
  Smem& sm = bwd_wg_shared<Smem>();
  const NaProblem& p = prm.p;
  const int tid = threadIdx.x;
  const int hk = blockIdx.y;
  const int64_t b = blockIdx.z;
  if (tid < 32) BwdKvWalk::init_by_first_warp(sm.walk, prm, extra != 0, blockIdx.x, kBwdWgQRows, kBwdWgKvRows);
  bwd_wg_setup(sm, prm, tid, false);
  __syncthreads();
  if (sm.walk.empty) return;  // empty slot of a short dilation group: the whole CTA leaves
  const int64_t n_it = sm.walk.per_head * (p.heads / p.heads_kv);
  if (tid < 128) {
    regs_dec<kBwdWgProducerRegs>();
    BwdWgProducer<Tag, DT>::run(prm, maps, sm, extra != 0, n_it, tid, b, hk);
  } else {
    regs_inc<kBwdWgConsumerRegs>();
    BwdWgConsumer<Tag, DT>::run(prm, sm, extra != 0, n_it, (tid >> 7) - 1, tid & 127, b, hk);
  }
#else
  __trap();
#endif
}

/// The persistent variant (kernel switch backward_persistent, fna_backward_wgmma_schedule.h): a grid of at most
/// one CTA per SM, each walking the tiles of `sched` it owns one after another.
template <class Tag, int DT>
__global__ void __launch_bounds__(kBwdWgThreads, 1)
    fna_backward_wgmma_persistent_kernel(const BackwardParams prm, int extra, const __grid_constant__ BwdWgMaps maps,
                                         const BwdWgSchedule sched) {
#if NATTEN_WGMMA_ENABLED
  using Smem = BwdWgSmem<Tag, DT>;
  Smem& sm = bwd_wg_shared<Smem>();
  const int tid = threadIdx.x;
  bwd_wg_setup(sm, prm, tid, true);
  __syncthreads();
  if (tid < 128) {
    regs_dec<kBwdWgProducerRegs>();
    BwdWgProducer<Tag, DT>::run_persistent(prm, maps, sched, sm, extra != 0, tid);
  } else {
    regs_inc<kBwdWgConsumerRegs>();
    BwdWgConsumer<Tag, DT>::run_persistent(prm, sched, sm, extra != 0, (tid >> 7) - 1, tid & 127);
  }
#else
  __trap();
#endif
}

}  // namespace natten::fused
