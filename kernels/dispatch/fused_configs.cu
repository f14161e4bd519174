// fused_configs.h: the compiled forward entries (kernels/fused/forward/forward_entries.h), filtered for a device.
#include "fused_configs.h"

#include "../fused/backward/fna_backward.h"
#include "../fused/forward/forward.h"

namespace natten::launch {

std::vector<FusedTileConfig> fused_configs(int device, int dims, int head_dim, int head_dim_v, DType dtype) {
  std::vector<FusedTileConfig> out;
  const fused::DeviceCaps caps = fused::device_caps(device);
  if (!fused::device_supported(caps) || head_dim % 8 != 0 || head_dim_v % 8 != 0) return out;
  const int tier = fused::head_dim_tier(head_dim, head_dim_v);
  for (const fused::ForwardEntry* e : fused::forward_candidates(dims, tier, dtype, caps)) {
    FusedTileConfig c;
    c.kernel = fused::kernel_name(e->arch);
    c.pass = "forward";
    c.dims = e->dims;
    c.head_dim_tier = e->head_dim_tier;
    c.dtype = e->dtype;
    for (int a = 0; a < kMaxDims; ++a) c.q_tile[a] = e->q_tile[a], c.kv_tile[a] = e->kv_tile[a];
    c.threads = e->threads;
    c.smem_bytes = e->smem_bytes;
    out.push_back(c);
  }
  // Backward configs (kernels/fused/backward/fna_backward_configs.h): Q x KV tile shapes of the backward kernels.
  const fused::BackwardDevice bdev = fused::backward_device(caps);
  for (const fused::BackwardConfigInfo& b : fused::backward_config_list(dims, head_dim, head_dim_v, dtype, bdev)) {
    FusedTileConfig c;
    c.pass = "backward";
    c.kernel = "mma";
    c.dims = dims;
    c.head_dim_tier = b.head_dim_tier;
    c.dtype = dtype;
    for (int a = 0; a < kMaxDims; ++a) c.q_tile[a] = b.tiles.q[a], c.kv_tile[a] = b.tiles.kv[a];
    c.threads = b.threads;
    c.smem_bytes = b.smem_bytes;
    out.push_back(c);
  }
  return out;
}

}  // namespace natten::launch
