// TMA tensor maps of the attention tensors (host side), shared by the 'wgmma-ws' forward and the wgmma
// backward: the shape of tma_map_shape.h, 128-byte swizzle (the wgmma shared-memory layout, tile_shape.h
// gmma_swizzle), out-of-bounds elements zero-filled, so a multi-dimensional tile is one bulk copy per column
// block. The encoder is the driver's cuTensorMapEncodeTiled reached through the runtime (libcuda is not
// linked).
#pragma once
#include <cuda.h>  // CUtensorMap and the encoder's types only
#include <stdint.h>

#include "../common/dtype.h"
#include "tma_map_shape.h"

namespace natten::gpu {

/// Whether the driver has the encoder (maps can be built at all).
bool tma_available();

/// Encodes `map` for a 16-bit tensor of type `t` at `base` with `dim` elements per head, `heads` heads,
/// `spatial_dims` spatial axes of extents `extent` (outermost first) and `batch` batches; `box` holds the
/// spatial box per axis (outermost first). Returns false (map unusable) when TMA cannot describe the tensor:
/// no encoder, a null or misaligned base, a stride not a multiple of 16 bytes, or an extent or box past
/// TMA's limits.
bool encode_tma_map(CUtensorMap& map, DType t, const void* base, int64_t dim, int64_t heads, int spatial_dims,
                    const int64_t* extent, int64_t batch, const int* box);

}  // namespace natten::gpu
