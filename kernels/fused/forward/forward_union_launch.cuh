// The host launcher of the window-union forward (forward_union_kernel.cuh) and its registry entries (used by
// forward_union_2d.cu only), apart from the kernel so that the CPU emulation compiles the kernel alone.
#pragma once
#include "../../runtime/cuda_check.h"
#include "forward_entries.h"
#include "forward_union_kernel.cuh"

namespace natten::fused {

static_assert(kUnionPanelKeys == UnionTraits<TileShape<2, 8, 8, 1>, 20, 20, 64, 2>::kPanelKeys,
              "the cost model's panel width is the kernel's");
static_assert(kUnionListChunkKeys == kUnionChunkKeys, "the cost model's chunk is the kernel's");

/// Enqueues the window-union kernel of one configuration on `stream`. The caller has checked what the
/// kernel assumes: forward_launch.cuh's list, and every Q tile's union box within Cap0 x Cap1.
template <class QTile, int Cap0, int Cap1, int DT, int Split, class Tag>
void launch_forward_union(const NaProblem& p, const FusedForwardArgs& args, cudaStream_t stream) {
  using Tr = UnionTraits<QTile, Cap0, Cap1, DT, Split>;
  const ForwardParams prm = forward_params(p, args);
  const int q_ext[3] = {QTile::ext(0), QTile::ext(1), QTile::ext(2)};
  const dim3 grid(static_cast<unsigned>(grid_slots(p, q_ext)), static_cast<unsigned>(p.heads),
                  static_cast<unsigned>(p.batch));
  auto kernel = na_forward_union_kernel<QTile, Cap0, Cap1, DT, Split, Tag>;
  NATTEN_CUDA_CHECK(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Tr::kSmemBytes)));
  // The whole unified L1 as shared memory: the kernel reads global memory only through cp.async (L2), and
  // the driver's default carve-out held fewer CTAs than the registers allow.
  NATTEN_CUDA_CHECK(
      cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxShared));
  kernel<<<grid, Tr::kThreads, Tr::kSmemBytes, stream>>>(prm);
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

template <class QTile, int Cap0, int Cap1, int DT, int Split, class Tag>
ForwardEntry make_forward_union_entry(DType dtype) {
  using Tr = UnionTraits<QTile, Cap0, Cap1, DT, Split>;
  ForwardEntry e{{QTile::kDims,
                  {QTile::ext(0), QTile::ext(1), QTile::ext(2)},
                  {Cap0, Cap1, 1},
                  DT,
                  80,
                  dtype,
                  Tr::kThreads,
                  static_cast<int>(Tr::kSmemBytes)},
                 1,
                 &launch_forward_union<QTile, Cap0, Cap1, DT, Split, Tag>,
                 reinterpret_cast<const void*>(&na_forward_union_kernel<QTile, Cap0, Cap1, DT, Split, Tag>)};
  e.window_union = true;
  return e;
}

}  // namespace natten::fused

/// Expands one X(...) line of NATTEN_FORWARD_UNION_CONFIGS_2D into its fp16 and bf16 entries.
#define NATTEN_FORWARD_UNION_ENTRY_PAIR(D, QX, QY, CX, CY, DT, SPLIT)                                        \
  ::natten::fused::make_forward_union_entry<::natten::fused::TileShape<D, QX, QY, 1>, CX, CY, DT, SPLIT,     \
                                            ::natten::fused::F16>(::natten::DType::Float16),                 \
      ::natten::fused::make_forward_union_entry<::natten::fused::TileShape<D, QX, QY, 1>, CX, CY, DT, SPLIT, \
                                                ::natten::fused::BF16>(::natten::DType::BFloat16),
