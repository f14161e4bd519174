// The sm_90a fused backward on wgmma (backwardKernel 'wgmma'): kernel entries (one KV tile per CTA, and the
// persistent variant behind a kernel switch) and launch of the KV-parallel main pass. The parts: the plan (fna_backward_wgmma_smem.h), the walk (fna_backward_walk.h, shared with
// the mma.sync kernel), the producer (fna_backward_wgmma_producer.cuh) and the consumers
// (fna_backward_wgmma_consumer.cuh). The other passes (Delta, extra-KV split reduction, dQ convert or the
// deterministic Q-parallel dQ kernel) are the mma backward's (fna_backward_kernels.h).
//
// Compiled for every target; the body exists only for sm_90a (elsewhere it traps, and the host launches
// it only on compute capability 9.0).
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>

#include <type_traits>

#include "../../runtime/cuda_check.h"
#include "../../runtime/kernel_switches.h"
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

/// Enqueues the main pass (extra = 0: window keys, grid over KV tile slots; extra = 1: additional keys,
/// grid over (extra tile, split)) at head-dim tier `tier` (64 or 128). The caller has checked what the
/// kernel assumes (fna_backward.h: compute capability 9.0, 16-byte aligned tensors, KV tile of 128 keys
/// with an even extent on axis 0 and Q tile of 64).
template <class Tag>
void launch_backward_wgmma(const BackwardParams& prm, int tier, int extra, dim3 grid, cudaStream_t s) {
  const size_t smem = bwd_wgmma_smem_bytes(tier);
  const BwdWgMaps maps = bwd_wg_prepare_maps(prm, std::is_same_v<Tag, BF16> ? DType::BFloat16 : DType::Float16,
                                             extra != 0);
  const gpu::KernelSwitches sw = gpu::kernel_switches();
  if (sw.backward_persistent) {
    auto kernel =
        tier == 64 ? fna_backward_wgmma_persistent_kernel<Tag, 64> : fna_backward_wgmma_persistent_kernel<Tag, 128>;
    NATTEN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    int device = 0, sms = 0;
    NATTEN_CUDA_CHECK(cudaGetDevice(&device));
    NATTEN_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    const BwdWgSchedule sched = bwd_wg_schedule(grid);
    kernel<<<bwd_wg_persistent_ctas(sched, sms, sw.persistent_ctas), kBwdWgThreads, smem, s>>>(prm, extra, maps,
                                                                                                sched);
    NATTEN_CUDA_CHECK(cudaGetLastError());
    gpu::count_backward_persistent_launch();
    return;
  }
  auto kernel = tier == 64 ? fna_backward_wgmma_kernel<Tag, 64> : fna_backward_wgmma_kernel<Tag, 128>;
  NATTEN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  kernel<<<grid, kBwdWgThreads, smem, s>>>(prm, extra, maps);
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace natten::fused
