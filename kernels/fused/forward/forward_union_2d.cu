// Compiled 2-D window-union fused-forward kernels (the list is NATTEN_FORWARD_UNION_CONFIGS_2D in
// forward_entries.h).
#include "forward_union_launch.cuh"

namespace natten::fused {

const std::vector<ForwardEntry>& forward_union_entries_2d() {
  static const std::vector<ForwardEntry> entries = {NATTEN_FORWARD_UNION_CONFIGS_2D(NATTEN_FORWARD_UNION_ENTRY_PAIR)};
  return entries;
}

}  // namespace natten::fused
