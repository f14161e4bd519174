// The host launcher of the fused forward kernel (forward_kernel.cuh), apart from the kernel so that the CPU
// emulation (dev/fused/emu) compiles the kernel header alone.
#pragma once
#include "../../runtime/cuda_check.h"
#include "forward_kernel.cuh"

namespace natten::fused {

/// Enqueues the forward kernel of one configuration on `stream`. The caller has checked what the kernel
/// assumes: sm_80+, 16-bit dtype, D and Dv multiples of 8 and <= DT, 16-byte aligned tensors, grid limits.
template <class QTile, class KVTile, int DT, int Stages, int Arch, class Tag>
void launch_forward(const NaProblem& p, const FusedForwardArgs& args, cudaStream_t stream) {
  using Tr = ForwardTraits<QTile, KVTile, DT, Stages, Arch>;
  const ForwardParams prm = forward_params(p, args);
  const int q_ext[3] = {QTile::ext(0), QTile::ext(1), QTile::ext(2)};
  const dim3 grid(static_cast<unsigned>(grid_slots(p, q_ext)), static_cast<unsigned>(p.heads),
                  static_cast<unsigned>(p.batch));
  auto kernel = na_forward_kernel<QTile, KVTile, DT, Stages, Arch, Tag>;
  NATTEN_CUDA_CHECK(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Tr::kSmemBytes)));
  kernel<<<grid, Tr::kThreads, Tr::kSmemBytes, stream>>>(prm);
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace natten::fused
