// fused_configs.h: both fused families' registries (kernels/runtime/family_configs.h) listed the same way,
// the entries that run on the device.
#include "fused_configs.h"

#include "../fused/backward/fna_backward.h"
#include "../fused/forward/forward.h"

namespace natten::launch {
namespace {

/// Appends the entries of one family for (dims, head dims, dtype) that run on the device.
template <class Entry>
void append_family(std::vector<FusedTileConfig>& out, const char* pass, const fused::FamilyConfigs<Entry>& family,
                   int dims, int head_dim, int head_dim_v, DType dtype, const fused::DeviceCaps& caps,
                   const NaProblem* problem) {
  const int tier = family.head_dim_tier(head_dim, head_dim_v);
  for (const Entry* e : family.entries(dims, tier, dtype, caps, problem)) {
    FusedTileConfig c;
    c.pass = pass;
    c.kernel = fused::kernel_name(e->arch);
    c.dims = e->dims;
    c.head_dim_tier = e->head_dim_tier;
    c.dtype = e->dtype;
    for (int a = 0; a < kMaxDims; ++a) c.q_tile[a] = e->q_tile[a], c.kv_tile[a] = e->kv_tile[a];
    c.threads = e->threads;
    c.smem_bytes = e->smem_bytes;
    if (problem) c.cost = family.cost(*e, *problem, caps);
    out.push_back(c);
  }
}

}  // namespace

std::vector<FusedTileConfig> fused_configs(int device, int dims, int head_dim, int head_dim_v, DType dtype,
                                           const NaProblem* problem) {
  return fused_configs_for(fused::device_caps(device), dims, head_dim, head_dim_v, dtype, problem);
}

std::vector<FusedTileConfig> fused_configs_for(const fused::DeviceCaps& caps, int dims, int head_dim, int head_dim_v,
                                               DType dtype, const NaProblem* problem) {
  std::vector<FusedTileConfig> out;
  if (!caps.runs_fused_kernels()) return out;
  append_family(out, "forward", fused::forward_configs(), dims, head_dim, head_dim_v, dtype, caps, problem);
  append_family(out, "backward", fused::backward_configs(), dims, head_dim, head_dim_v, dtype, caps, problem);
  return out;
}

}  // namespace natten::launch
