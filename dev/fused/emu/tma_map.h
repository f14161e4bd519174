// CPU emulation of kernels/runtime/tma_map.h: the map's shape (the real tma_map_shape.h) and base, kept in
// the CUtensorMap's bytes for sm90_ws.h's emulated copies.
#pragma once
#include <cuda.h>
#include <stdint.h>

#include <cstring>

#include "../common/dtype.h"
#include "tma_map_shape.h"

namespace natten::gpu {

struct EmuTensorMap {
  const void* base;
  TmaMapShape shape;
};
static_assert(sizeof(EmuTensorMap) <= sizeof(CUtensorMap), "the emulated map fits a CUtensorMap");

inline bool tma_available() { return true; }

inline bool encode_tma_map(CUtensorMap& map, DType t, const void* base, int64_t dim, int64_t heads, int spatial_dims,
                           const int64_t* extent, int64_t batch, const int* box) {
  if (!base || (reinterpret_cast<uintptr_t>(base) & 15) != 0) return false;
  if (t != DType::BFloat16 && t != DType::Float16) return false;
  EmuTensorMap m{};
  m.base = base;
  if (!tma_map_shape(m.shape, dim, heads, spatial_dims, extent, batch, box)) return false;
  std::memset(&map, 0, sizeof(map));
  std::memcpy(&map, &m, sizeof(m));
  return true;
}

}  // namespace natten::gpu
