// The one cached query of a CUDA device's capabilities (device_caps.h).
#include "device_caps.h"

#include <mutex>
#include <optional>
#include <vector>

#include "cuda_check.h"

namespace natten::fused {
namespace {

/// What is known about one device.
struct Known {
  std::optional<DeviceCaps> caps;
  std::optional<std::string> name;
};

// Process-wide and never destroyed (docs/design.md §4): threads may query while the process exits.
auto* g_mutex = new std::mutex();
auto* g_devices = new std::vector<Known>();  // by ordinal, grown on demand

DeviceCaps query_caps(int device) {
  DeviceCaps c;
  c.device = device;
  NATTEN_CUDA_CHECK(cudaDeviceGetAttribute(&c.cc_major, cudaDevAttrComputeCapabilityMajor, device));
  NATTEN_CUDA_CHECK(cudaDeviceGetAttribute(&c.cc_minor, cudaDevAttrComputeCapabilityMinor, device));
  NATTEN_CUDA_CHECK(cudaDeviceGetAttribute(&c.sm_count, cudaDevAttrMultiProcessorCount, device));
  NATTEN_CUDA_CHECK(cudaDeviceGetAttribute(&c.smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  return c;
}

std::string query_name(int device) {
  cudaDeviceProp p;
  NATTEN_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  return p.name;
}

/// `field` of a device, queried on first use and then cached.
template <class T>
T cached(int device, std::optional<T> Known::*field, T (*query)(int)) {
  if (device < 0) return query(device);  // not an ordinal: the query throws
  std::lock_guard<std::mutex> lock(*g_mutex);
  if (device >= static_cast<int>(g_devices->size())) g_devices->resize(device + 1);
  std::optional<T>& slot = (*g_devices)[device].*field;
  if (!slot) slot = query(device);
  return *slot;
}

}  // namespace

DeviceCaps device_caps(int device) { return cached(device, &Known::caps, query_caps); }

std::string device_name(int device) { return cached(device, &Known::name, query_name); }

}  // namespace natten::fused
