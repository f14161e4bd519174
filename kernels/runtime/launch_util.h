// Host helpers shared by the reference and unfused launchers.
#pragma once
#include <stdint.h>

#include <string>

#include "../common/error.h"

namespace natten::cuda {

/// Number of CTAs for `items` work items of `per_block` each; one-dimensional grids only (2^31 - 1 CTAs).
inline unsigned grid_for(int64_t items, int64_t per_block, const char* op) {
  const int64_t blocks = (items + per_block - 1) / per_block;
  if (blocks > 0x7fffffffLL)
    throw Error(ErrorKind::Range, "ERR_NATTEN_UNSUPPORTED",
                std::string(op) + ": problem too large for one launch (" + std::to_string(blocks) + " CTAs)");
  return (unsigned)(blocks > 0 ? blocks : 1);
}

}  // namespace natten::cuda
