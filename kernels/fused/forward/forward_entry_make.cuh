// Builds a ForwardEntry for one template configuration (used by forward_{1,2,3}d.cu only).
#pragma once
#include "forward_entries.h"
#include "forward_launch.cuh"

namespace natten::fused {

template <class QTile, class KVTile, int DT, int Stages, int Arch, class Tag>
ForwardEntry make_forward_entry(DType dtype) {
  using Tr = ForwardTraits<QTile, KVTile, DT, Stages, Arch>;
  return ForwardEntry{{QTile::kDims,
                       {QTile::ext(0), QTile::ext(1), QTile::ext(2)},
                       {KVTile::ext(0), KVTile::ext(1), KVTile::ext(2)},
                       DT,
                       Arch,
                       dtype,
                       Tr::kThreads,
                       static_cast<int>(Tr::kSmemBytes)},
                      Stages,
                      &launch_forward<QTile, KVTile, DT, Stages, Arch, Tag>,
                      reinterpret_cast<const void*>(&na_forward_kernel<QTile, KVTile, DT, Stages, Arch, Tag>)};
}

}  // namespace natten::fused

/// Expands one X(...) line of a config list into its fp16 and bf16 entries for kernel architecture ARCH.
#define NATTEN_FORWARD_ENTRY_PAIR_ARCH(ARCH, D, QX, QY, QZ, KX, KY, KZ, DT, ST)                                       \
  ::natten::fused::make_forward_entry<::natten::fused::TileShape<D, QX, QY, QZ>,                                      \
                                      ::natten::fused::TileShape<D, KX, KY, KZ>, DT, ST, ARCH, ::natten::fused::F16>( \
      ::natten::DType::Float16),                                                                                      \
      ::natten::fused::make_forward_entry<::natten::fused::TileShape<D, QX, QY, QZ>,                                  \
                                          ::natten::fused::TileShape<D, KX, KY, KZ>, DT, ST, ARCH,                    \
                                          ::natten::fused::BF16>(::natten::DType::BFloat16),
/// X(...) expanders for the mma.sync (sm_80) and wgmma (sm_90a) lists.
#define NATTEN_FORWARD_ENTRY_PAIR(...) NATTEN_FORWARD_ENTRY_PAIR_ARCH(80, __VA_ARGS__)
#define NATTEN_FORWARD_WGMMA_ENTRY_PAIR(...) NATTEN_FORWARD_ENTRY_PAIR_ARCH(90, __VA_ARGS__)
