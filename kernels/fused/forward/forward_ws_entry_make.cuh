// Builds a ForwardEntry for one 'wgmma-ws' configuration (used by forward_ws_{1,2,3}d.cu only).
#pragma once
#include "forward_entries.h"
#include "forward_ws_launch.cuh"

namespace natten::fused {

template <class QTile, class KVTile, int DT, int Stages, class Tag>
ForwardEntry make_forward_ws_entry(DType dtype) {
  using Tr = WsTraits<QTile, KVTile, DT, Stages>;
  return ForwardEntry{{QTile::kDims,
                       {QTile::ext(0), QTile::ext(1), QTile::ext(2)},
                       {KVTile::ext(0), KVTile::ext(1), KVTile::ext(2)},
                       DT,
                       kWgmmaWsArch,
                       dtype,
                       Tr::kThreads,
                       static_cast<int>(Tr::kSmemBytes)},
                      Stages,
                      &launch_forward_ws<QTile, KVTile, DT, Stages, Tag>,
                      reinterpret_cast<const void*>(&na_forward_ws_kernel<QTile, KVTile, DT, Stages, Tag>)};
}

}  // namespace natten::fused

/// Expands one X(...) line of a NATTEN_FORWARD_WS_CONFIGS_* list into its fp16 and bf16 entries. The KV tile is a
/// RasterBox (a 3-D plane tile, extent 1 on axis 0, is not a whole number of the mma.sync micro boxes).
#define NATTEN_FORWARD_WS_ENTRY_PAIR(D, QX, QY, QZ, KX, KY, KZ, DT, ST)                                            \
  ::natten::fused::make_forward_ws_entry<::natten::fused::TileShape<D, QX, QY, QZ>,                                \
                                         ::natten::fused::RasterBox<D, KX, KY, KZ>, DT, ST, ::natten::fused::F16>( \
      ::natten::DType::Float16),                                                                                   \
      ::natten::fused::make_forward_ws_entry<::natten::fused::TileShape<D, QX, QY, QZ>,                            \
                                             ::natten::fused::RasterBox<D, KX, KY, KZ>, DT, ST,                    \
                                             ::natten::fused::BF16>(::natten::DType::BFloat16),

/// Expands one X(...) line of NATTEN_FORWARD_WS_STRIP_CONFIGS_2D into its fp16 and bf16 entries.
#define NATTEN_FORWARD_WS_STRIP_ENTRY_PAIR(D, QX, QY, QZ, N, DT, ST)                                                 \
  ::natten::fused::make_forward_ws_entry<::natten::fused::TileShape<D, QX, QY, QZ>, ::natten::fused::KvStrip<N>, DT, \
                                         ST, ::natten::fused::F16>(::natten::DType::Float16),                        \
      ::natten::fused::make_forward_ws_entry<::natten::fused::TileShape<D, QX, QY, QZ>, ::natten::fused::KvStrip<N>, \
                                             DT, ST, ::natten::fused::BF16>(::natten::DType::BFloat16),
