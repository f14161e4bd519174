// The one cached query of a CUDA device's capabilities (device_caps.h).
#include "device_caps.h"

#include <mutex>
#include <vector>

#include "cuda_check.h"

namespace natten::fused {

DeviceCaps device_caps(int device) {
  static std::mutex mutex;
  static std::vector<DeviceCaps> cache;
  static std::vector<bool> known;
  std::lock_guard<std::mutex> lock(mutex);
  if (device >= static_cast<int>(cache.size())) {
    cache.resize(device + 1);
    known.resize(device + 1, false);
  }
  if (!known[device]) {
    DeviceCaps c;
    c.device = device;
    NATTEN_CUDA_CHECK(cudaDeviceGetAttribute(&c.cc_major, cudaDevAttrComputeCapabilityMajor, device));
    NATTEN_CUDA_CHECK(cudaDeviceGetAttribute(&c.cc_minor, cudaDevAttrComputeCapabilityMinor, device));
    NATTEN_CUDA_CHECK(cudaDeviceGetAttribute(&c.sm_count, cudaDevAttrMultiProcessorCount, device));
    NATTEN_CUDA_CHECK(cudaDeviceGetAttribute(&c.smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    cache[device] = c;
    known[device] = true;
  }
  return cache[device];
}

}  // namespace natten::fused
