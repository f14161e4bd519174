// The host launcher of the 'wgmma-ws' forward kernel (forward_ws_kernel.cuh), apart from the kernel so that
// the CPU emulation (dev/fused/emu) compiles the kernel header alone.
#pragma once
#include "../../runtime/cuda_check.h"
#include "forward_ws_kernel.cuh"

namespace natten::fused {

/// Enqueues the 'wgmma-ws' kernel of one configuration. The caller has checked what the kernel assumes
/// (forward.h: compute capability 9.0, 16-bit dtype, D and Dv multiples of 8 and <= DT, 16-byte aligned
/// tensors, grid limits).
template <class QTile, class KVTile, int DT, int Stages, class Tag>
void launch_forward_ws(const NaProblem& p, const FusedForwardArgs& args, cudaStream_t stream) {
  using Tr = WsTraits<QTile, KVTile, DT, Stages>;
  const WsParams prm = ws_params<QTile, KVTile, DT, Stages, Tag>(p, args);
  const int q_ext[3] = {Tr::q_ext(0), Tr::q_ext(1), Tr::q_ext(2)};
  const dim3 grid(static_cast<unsigned>(grid_slots(p, q_ext)), static_cast<unsigned>(p.heads),
                  static_cast<unsigned>(p.batch));
  auto kernel = na_forward_ws_kernel<QTile, KVTile, DT, Stages, Tag>;
  NATTEN_CUDA_CHECK(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Tr::kSmemBytes)));
  kernel<<<grid, Tr::kThreads, Tr::kSmemBytes, stream>>>(prm);
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace natten::fused
