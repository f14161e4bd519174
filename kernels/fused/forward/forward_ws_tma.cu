// Host side of the 'wgmma-ws' TMA tensor maps (forward_ws_params.h): the driver's encoder reached through
// the runtime (cudaGetDriverEntryPointByVersion: libcuda is not linked) and the maps of one launch.
#include "forward_ws_params.h"

#include <cstring>

#include "../../runtime/driver_entry.h"

namespace natten::fused {
namespace {

using EncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                 const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
                                 CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

/// The driver's cuTensorMapEncodeTiled (CUDA 12.0 ABI), or null when the driver has none.
EncodeTiled encoder() {
  static const EncodeTiled fn = reinterpret_cast<EncodeTiled>(gpu::driver_entry("cuTensorMapEncodeTiled", 12000));
  return fn;
}

/// A tensor of `tokens_per_batch` spatial positions laid out [B, ...spatial, heads, dim] as a TMA map:
/// dims (innermost first) dim, heads, spatial extents (last axis first) and batch, batch folded into the
/// first spatial axis when the rank would pass 5. Box: 64 x 1 x box[...] x 1.
bool encode(CUtensorMap& map, CUtensorMapDataType type, const void* base, int64_t dim, int64_t heads,
            int spatial_dims, const int64_t* extent, int64_t batch, const int* box) {
  if (!base || dim <= 0) return false;
  cuuint64_t gdim[5];
  cuuint64_t gstride[4];  // bytes, of dims 1..rank-1
  cuuint32_t bdim[5], estride[5] = {1, 1, 1, 1, 1};
  int rank = 0;
  int64_t stride = dim * 2;  // bytes per step of the next dimension
  auto push = [&](int64_t n, int b) {
    if (rank > 0) gstride[rank - 1] = static_cast<cuuint64_t>(stride), stride *= n;
    gdim[rank] = static_cast<cuuint64_t>(n);
    bdim[rank] = static_cast<cuuint32_t>(b);
    ++rank;
  };
  push(dim, 64);
  push(heads, 1);
  const bool fold = 2 + spatial_dims + 1 > 5;
  for (int a = spatial_dims - 1; a >= 0; --a) push(a == 0 && fold ? extent[a] * batch : extent[a], box[a]);
  if (!fold) push(batch, 1);
  for (int i = 0; i < rank; ++i)
    if (gdim[i] == 0 || gdim[i] > (cuuint64_t(1) << 32) || bdim[i] > 256) return false;
  for (int i = 0; i + 1 < rank; ++i)
    if (gstride[i] % 16 != 0 || gstride[i] >= (cuuint64_t(1) << 40)) return false;
  return encoder()(&map, type, static_cast<cuuint32_t>(rank), const_cast<void*>(base), gdim, gstride, bdim, estride,
                   CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
                   CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

}  // namespace

void ws_prepare_tma(WsParams& prm, DType t, const WsBoxes& boxes) {
  std::memset(&prm.tm_q, 0, sizeof(CUtensorMap) * 5);
  prm.use_tma = 0;
  const NaProblem& p = prm.p;
  for (int a = 0; a < p.dims; ++a)
    if (p.dilation[a] != 1) return;
  if (!encoder()) return;
  const CUtensorMapDataType type =
      t == DType::BFloat16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
  const int64_t ext[3] = {p.length[0], p.length[1], p.length[2]};
  bool ok = encode(prm.tm_q, type, prm.a.q, p.head_dim, p.heads, p.dims, ext, p.batch, boxes.q_half) &&
            encode(prm.tm_k, type, prm.a.k, p.head_dim, p.heads_kv, p.dims, ext, p.batch, boxes.kv) &&
            encode(prm.tm_v, type, prm.a.v, p.head_dim_v, p.heads_kv, p.dims, ext, p.batch, boxes.kv);
  if (ok && p.n_extra > 0) {
    const int64_t n[1] = {p.n_extra};
    const int rows[1] = {boxes.kv_rows};
    ok = encode(prm.tm_ek, type, prm.a.extra_k, p.head_dim, p.heads_kv, 1, n, p.batch, rows) &&
         encode(prm.tm_ev, type, prm.a.extra_v, p.head_dim_v, p.heads_kv, 1, n, p.batch, rows);
  }
  prm.use_tma = ok ? 1 : 0;
}

}  // namespace natten::fused
