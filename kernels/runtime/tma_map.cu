// TMA tensor maps of the attention tensors (tma_map.h).
#include "tma_map.h"

#include "driver_entry.h"

namespace natten::gpu {
namespace {

using EncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                 const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
                                 CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

/// The driver's cuTensorMapEncodeTiled (CUDA 12.0 ABI), or null when the driver has none.
EncodeTiled encoder() {
  static const EncodeTiled fn = reinterpret_cast<EncodeTiled>(driver_entry("cuTensorMapEncodeTiled", 12000));
  return fn;
}

}  // namespace

bool tma_available() { return encoder() != nullptr; }

bool encode_tma_map(CUtensorMap& map, DType t, const void* base, int64_t dim, int64_t heads, int spatial_dims,
                    const int64_t* extent, int64_t batch, const int* box) {
  if (!encoder() || !base || dim <= 0 || (reinterpret_cast<uintptr_t>(base) & 15) != 0) return false;
  if (t != DType::BFloat16 && t != DType::Float16) return false;
  TmaMapShape m;
  if (!tma_map_shape(m, dim, heads, spatial_dims, extent, batch, box)) return false;
  cuuint64_t gdim[5], gstride[4];
  cuuint32_t bdim[5], estride[5] = {1, 1, 1, 1, 1};
  for (int i = 0; i < m.rank; ++i) gdim[i] = m.dim[i], bdim[i] = m.box[i];
  for (int i = 0; i + 1 < m.rank; ++i) gstride[i] = m.stride[i];
  const CUtensorMapDataType type =
      t == DType::BFloat16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
  return encoder()(&map, type, static_cast<cuuint32_t>(m.rank), const_cast<void*>(base), gdim, gstride, bdim, estride,
                   CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
                   CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

}  // namespace natten::gpu
