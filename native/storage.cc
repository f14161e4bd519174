#include "storage.h"

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "../kernels/launch/gpu_runtime.h"

namespace natten::node {
namespace {

constexpr int kMaxDevices = 64;
std::atomic<int64_t> g_bytes[kMaxDevices + 1];
std::atomic<int64_t> g_count[kMaxDevices + 1];

int slot(Device d) { return d.index < 0 ? 0 : (d.index < kMaxDevices ? d.index + 1 : kMaxDevices); }

}  // namespace

Storage::Storage(Device device, size_t bytes) : device_(device), bytes_(bytes) {
  if (device.is_cpu()) {
    if (bytes) {
      // 64-byte alignment for SIMD loads; aligned_alloc needs a multiple of the alignment.
      data_ = std::aligned_alloc(64, (bytes + 63) & ~size_t(63));
      if (!data_)
        throw Error(ErrorKind::Natten, "ERR_NATTEN_OOM",
                    "out of host memory: cannot allocate " + std::to_string(bytes) + " bytes");
    }
  } else {
    data_ = gpu::alloc(device.index, bytes);
  }
  g_bytes[slot(device)] += (int64_t)bytes;
  g_count[slot(device)] += 1;
}

Storage::~Storage() {
  if (device_.is_cpu()) std::free(data_);
  else gpu::release(device_.index, data_);
  g_bytes[slot(device_)] -= (int64_t)bytes_;
  g_count[slot(device_)] -= 1;
}

int64_t bytes_in_use(Device device) { return g_bytes[slot(device)].load(); }
int64_t storages_alive(Device device) { return g_count[slot(device)].load(); }

}  // namespace natten::node
