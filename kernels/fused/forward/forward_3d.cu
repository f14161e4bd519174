// Compiled 3-D fused-forward kernels (the list is NATTEN_FORWARD_CONFIGS_3D in forward_entries.h).
#include "forward_entry_make.cuh"

namespace natten::fused {

const std::vector<ForwardEntry>& forward_entries_3d() {
  static const std::vector<ForwardEntry> entries = {NATTEN_FORWARD_CONFIGS_3D(
      NATTEN_FORWARD_ENTRY_PAIR) NATTEN_FORWARD_WGMMA_CONFIGS_3D(NATTEN_FORWARD_WGMMA_ENTRY_PAIR)};
  return entries;
}

}  // namespace natten::fused
