// The host launcher of the 'wgmma-ws' forward kernel (forward_ws_kernel.cuh), apart from the kernel so that
// the CPU emulation (dev/fused/emu) compiles the kernel header alone.
#pragma once
#include <stdint.h>

#include "../../runtime/cuda_check.h"
#include "../../runtime/device_caps.h"
#include "../../runtime/kernel_switches.h"
#include "forward_ws_kernel.cuh"

namespace natten::fused {

/// CTAs of a 'wgmma-ws' launch of n_items work items: one per item (the kernel's item loop walks any past
/// the grid's limit), or with the forward_ws_persistent switch a persistent launch (persistent_launch_ctas).
inline unsigned ws_launch_ctas(int64_t n_items) {
  const gpu::KernelSwitches sw = gpu::kernel_switches();
  if (!sw.forward_ws_persistent) return unsigned(n_items < INT32_MAX ? n_items : INT32_MAX);
  int device = 0;
  NATTEN_CUDA_CHECK(cudaGetDevice(&device));
  gpu::count_forward_ws_persistent_launch();
  return gpu::persistent_launch_ctas(n_items, device_caps(device).sm_count, sw.persistent_ctas);
}

/// Enqueues the 'wgmma-ws' kernel of one configuration. The caller has checked what the kernel assumes
/// (forward.h: compute capability 9.0, 16-bit dtype, D and Dv multiples of 8 and <= DT, 16-byte aligned
/// tensors, grid limits).
template <class QTile, class KVTile, int DT, int Stages, class Tag>
void launch_forward_ws(const NaProblem& p, const FusedForwardArgs& args, cudaStream_t stream) {
  using Tr = WsTraits<QTile, KVTile, DT, Stages>;
  const WsParams prm = ws_params<QTile, KVTile, DT, Stages, Tag>(p, args);
  const dim3 grid(ws_launch_ctas(prm.n_items));
  auto kernel = na_forward_ws_kernel<QTile, KVTile, DT, Stages, Tag>;
  NATTEN_CUDA_CHECK(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Tr::kSmemBytes)));
  kernel<<<grid, Tr::kThreads, Tr::kSmemBytes, stream>>>(prm);
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace natten::fused
