// Host helpers shared by the reference and unfused launchers: grid sizes, and (nvcc only) a launch with
// dynamic shared memory.
#pragma once
#include <stdint.h>

#include <string>

#include "../common/error.h"
#include "cuda_check.h"

namespace natten::cuda {

/// Number of CTAs for `items` work items of `per_block` each; one-dimensional grids only (2^31 - 1 CTAs).
inline unsigned grid_for(int64_t items, int64_t per_block, const char* op) {
  const int64_t blocks = (items + per_block - 1) / per_block;
  if (blocks > 0x7fffffffLL)
    throw Error(ErrorKind::Range, "ERR_NATTEN_UNSUPPORTED",
                std::string(op) + ": problem too large for one launch (" + std::to_string(blocks) + " CTAs)");
  return (unsigned)(blocks > 0 ? blocks : 1);
}

#ifdef __CUDACC__
/// Enqueues kernel<<<blocks, threads, smem, s>>>(args...), first allowing `smem` bytes of dynamic shared
/// memory where that is above the 48 KiB default, and raises the launch's error.
template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), unsigned blocks, int threads, int smem, cudaStream_t s, Args&&... args) {
  if (smem > 48 * 1024)
    NATTEN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  kernel<<<blocks, threads, smem, s>>>(static_cast<Args&&>(args)...);
  NATTEN_CUDA_CHECK(cudaGetLastError());
}
#endif

}  // namespace natten::cuda
