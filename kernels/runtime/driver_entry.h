// Driver API functions reached through the runtime (libcuda is not linked: the addon loads on machines
// without a driver, and the runtime already holds the driver it found).
#pragma once
#include <cuda_runtime.h>

namespace natten::gpu {

/// The driver's function `name` of the ABI of CUDA `version` (e.g. 12000), or null when the driver has none.
/// Leaves no sticky error behind.
inline void* driver_entry(const char* name, int version) {
  void* f = nullptr;
  cudaDriverEntryPointQueryResult status{};
  if (cudaGetDriverEntryPointByVersion(name, &f, version, cudaEnableDefault, &status) != cudaSuccess ||
      status != cudaDriverEntryPointSuccess) {
    (void)cudaGetLastError();
    return nullptr;
  }
  return f;
}

}  // namespace natten::gpu
