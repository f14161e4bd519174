// Tensor storage: a reference-counted block of memory on one device. JS tensors hold a handle to one;
// queued work captures a reference too, so memory lives until the last user is done (docs/design.md §3-§4).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <memory>

namespace natten::node {

/// A device: -1 is the CPU, n >= 0 is cuda:n (the JS side resolves 'cuda' to the current device).
struct Device {
  int index = -1;
  bool is_cpu() const { return index < 0; }
  bool operator==(const Device& o) const { return index == o.index; }
};

class Storage {
 public:
  Storage(Device device, size_t bytes);  // throws natten::Error(ERR_NATTEN_OOM) when memory runs out
  /// A view of `bytes` bytes of `parent` from byte `offset` (in range): it owns no memory, keeps the parent
  /// alive, and counts in neither memory() nor liveStorages (the parent does).
  Storage(std::shared_ptr<Storage> parent, size_t offset, size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  Device device() const { return device_; }
  size_t bytes() const { return bytes_; }
  void* data() const { return data_; }

 private:
  Device device_;
  size_t bytes_;
  void* data_ = nullptr;
  std::shared_ptr<Storage> parent_;  // set for a view
};

using StoragePtr = std::shared_ptr<Storage>;

/// Bytes currently held by live storages on a device.
int64_t bytes_in_use(Device device);
/// Number of live storages on a device.
int64_t storages_alive(Device device);

}  // namespace natten::node
