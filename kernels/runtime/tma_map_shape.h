// The shape of an attention tensor's TMA map (plain C++: the encoder in tma_map.cu and the CPU emulation in
// dev/fused/emu both use it): a [B, ...spatial, heads, dim] tensor of 16-bit elements as a map of rank <= 5,
// innermost first
//   (dim, heads, spatial extents last axis first, batch),
// batch folded into the first spatial axis when the rank would pass 5 (3-D). Box: one 64-element column
// block of one head over a spatial box.
#pragma once
#include <stdint.h>

#include "../common/dtype.h"

namespace natten::gpu {

/// Whether the map folds batch into the first spatial axis for this many spatial axes (rank > 5): rows a box
/// reads past a batch's first-axis edge then belong to the next batch instead of being zeros.
constexpr bool tma_map_folds_batch(int spatial_dims) { return 2 + spatial_dims + 1 > 5; }

struct TmaMapShape {
  int rank = 0;
  uint64_t dim[5];     // elements per dimension
  uint64_t stride[4];  // bytes per step of dimensions 1..rank-1
  uint32_t box[5];     // box extent per dimension
};

/// The map of a 16-bit tensor with `dim` elements per head, `heads` heads, `spatial_dims` spatial axes of
/// extents `extent` (outermost first) and `batch` batches, box `box` per spatial axis (outermost first);
/// false when TMA cannot describe it (an extent or box past TMA's limits, a stride not a multiple of 16
/// bytes).
inline bool tma_map_shape(TmaMapShape& s, int64_t dim, int64_t heads, int spatial_dims, const int64_t* extent,
                          int64_t batch, const int* box) {
  if (dim <= 0) return false;
  s.rank = 0;
  int64_t stride = dim * 2;  // bytes per step of the next dimension
  auto push = [&](int64_t n, int b) {
    if (s.rank > 0) s.stride[s.rank - 1] = static_cast<uint64_t>(stride), stride *= n;
    s.dim[s.rank] = static_cast<uint64_t>(n);
    s.box[s.rank] = static_cast<uint32_t>(b);
    ++s.rank;
  };
  push(dim, 64);
  push(heads, 1);
  const bool fold = tma_map_folds_batch(spatial_dims);
  for (int a = spatial_dims - 1; a >= 0; --a) push(a == 0 && fold ? extent[a] * batch : extent[a], box[a]);
  if (!fold) push(batch, 1);
  for (int i = 0; i < s.rank; ++i)
    if (s.dim[i] == 0 || s.dim[i] > (uint64_t(1) << 32) || s.box[i] == 0 || s.box[i] > 256) return false;
  for (int i = 0; i + 1 < s.rank; ++i)
    if (s.stride[i] % 16 != 0 || s.stride[i] >= (uint64_t(1) << 40)) return false;
  return true;
}

}  // namespace natten::gpu
