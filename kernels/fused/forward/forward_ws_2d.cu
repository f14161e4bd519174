// Compiled 2-D 'wgmma-ws' fused-forward kernels (the lists are NATTEN_FORWARD_WS_CONFIGS_2D and
// NATTEN_FORWARD_WS_STRIP_CONFIGS_2D in forward_entries.h).
#include "forward_ws_entry_make.cuh"

namespace natten::fused {

const std::vector<ForwardEntry>& forward_ws_entries_2d() {
  static const std::vector<ForwardEntry> entries = {NATTEN_FORWARD_WS_CONFIGS_2D(
      NATTEN_FORWARD_WS_ENTRY_PAIR) NATTEN_FORWARD_WS_STRIP_CONFIGS_2D(NATTEN_FORWARD_WS_STRIP_ENTRY_PAIR)};
  return entries;
}

}  // namespace natten::fused
