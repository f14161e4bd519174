#include "storage.h"

#include <atomic>
#include <string>

#include "../engine/cpu/host_buffer.h"
#include "../kernels/runtime/gpu_runtime.h"

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
      data_ = cpu::host_alloc(bytes);  // 64-byte aligned for SIMD loads
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

Storage::Storage(std::shared_ptr<Storage> parent, size_t offset, size_t bytes)
    : device_(parent->device()),
      bytes_(bytes),
      data_(static_cast<char*>(parent->data()) + offset),
      parent_(std::move(parent)) {}

Storage::~Storage() {
  if (parent_) return;
  if (device_.is_cpu()) cpu::host_free(data_, bytes_);
  else gpu::release(device_.index, data_, bytes_);
  g_bytes[slot(device_)] -= (int64_t)bytes_;
  g_count[slot(device_)] -= 1;
}

int64_t bytes_in_use(Device device) { return g_bytes[slot(device)].load(); }
int64_t storages_alive(Device device) { return g_count[slot(device)].load(); }

}  // namespace natten::node
