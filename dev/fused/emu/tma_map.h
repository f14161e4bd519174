// CPU emulation of kernels/runtime/tma_map.h: the map's dimensions, strides and box, kept in the
// CUtensorMap's bytes for sm90_ws.h's emulated copies.
#pragma once
#include <cuda.h>
#include <stdint.h>

#include <cstring>

#include "../common/dtype.h"

namespace natten::gpu {

struct EmuTensorMap {
  const void* base;
  int rank;
  int elem;  // bytes per element
  uint64_t dim[5];
  uint64_t stride[4];  // bytes, of dims 1..rank-1
  int box[5];
};
static_assert(sizeof(EmuTensorMap) <= sizeof(CUtensorMap), "the emulated map fits a CUtensorMap");

inline bool tma_available() { return true; }
constexpr bool tma_map_folds_batch(int spatial_dims) { return 2 + spatial_dims + 1 > 5; }

inline bool encode_tma_map(CUtensorMap& map, DType t, const void* base, int64_t dim, int64_t heads, int spatial_dims,
                           const int64_t* extent, int64_t batch, const int* box) {
  if (!base || dim <= 0 || (reinterpret_cast<uintptr_t>(base) & 15) != 0) return false;
  if (t != DType::BFloat16 && t != DType::Float16) return false;
  EmuTensorMap m{};
  m.base = base;
  m.elem = 2;
  int64_t stride = dim * 2;
  auto push = [&](int64_t n, int b) {
    if (m.rank > 0) m.stride[m.rank - 1] = (uint64_t)stride, stride *= n;
    m.dim[m.rank] = (uint64_t)n;
    m.box[m.rank] = b;
    ++m.rank;
  };
  push(dim, 64);
  push(heads, 1);
  const bool fold = tma_map_folds_batch(spatial_dims);
  for (int a = spatial_dims - 1; a >= 0; --a) push(a == 0 && fold ? extent[a] * batch : extent[a], box[a]);
  if (!fold) push(batch, 1);
  for (int i = 0; i + 1 < m.rank; ++i)
    if (m.stride[i] % 16 != 0) return false;
  std::memset(&map, 0, sizeof(map));
  std::memcpy(&map, &m, sizeof(m));
  return true;
}

}  // namespace natten::gpu
