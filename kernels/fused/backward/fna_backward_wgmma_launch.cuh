// Launch of the sm_90a wgmma backward's main pass (fna_backward_wgmma_kernel.cuh): its TMA maps, the plain or
// (kernel switch backward_persistent) persistent grid. Instantiated in fna_backward_wgmma_f16.cu / _bf16.cu.
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>

#include <type_traits>

#include "../../runtime/cuda_check.h"
#include "../../runtime/device_caps.h"
#include "../../runtime/kernel_switches.h"
#include "fna_backward_wgmma_kernel.cuh"

namespace natten::fused {

/// Enqueues the main pass (extra = 0: window keys, grid over KV tile slots; extra = 1: additional keys,
/// grid over (extra tile, split)) at head-dim tier `tier` (64 or 128). The caller has checked what the
/// kernel assumes (fna_backward.h: compute capability 9.0, 16-byte aligned tensors, KV tile of 128 keys
/// with an even extent on axis 0 and Q tile of 64).
template <class Tag>
void launch_backward_wgmma(const BackwardParams& prm, int tier, int extra, dim3 grid, cudaStream_t s) {
  const size_t smem = bwd_wgmma_smem_bytes(tier);
  const BwdWgMaps maps =
      bwd_wg_prepare_maps(prm, std::is_same_v<Tag, BF16> ? DType::BFloat16 : DType::Float16, extra != 0);
  const gpu::KernelSwitches sw = gpu::kernel_switches();
  if (sw.backward_persistent) {
    auto kernel =
        tier == 64 ? fna_backward_wgmma_persistent_kernel<Tag, 64> : fna_backward_wgmma_persistent_kernel<Tag, 128>;
    NATTEN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    int device = 0;
    NATTEN_CUDA_CHECK(cudaGetDevice(&device));
    const BwdWgSchedule sched = bwd_wg_schedule(grid);
    const unsigned ctas = gpu::persistent_launch_ctas(sched.tiles, device_caps(device).sm_count, sw.persistent_ctas);
    kernel<<<ctas, kBwdWgThreads, smem, s>>>(prm, extra, maps, sched);
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
