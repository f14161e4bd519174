#include "host_buffer.h"

#include <stdlib.h>
#include <sys/mman.h>

#include <new>

namespace natten::cpu {

void* host_alloc(size_t bytes) noexcept {
  if (bytes == 0) return nullptr;
  if (bytes >= kMappedBytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;  // page aligned
  }
  return aligned_alloc(64, (bytes + 63) & ~size_t(63));  // aligned_alloc needs a multiple of the alignment
}

void host_free(void* p, size_t bytes) noexcept {
  if (!p) return;
  if (bytes >= kMappedBytes) munmap(p, bytes);
  else free(p);
}

HostBuffer::HostBuffer(size_t bytes) : data_(host_alloc(bytes)), bytes_(bytes) {
  if (bytes && !data_) {
    bytes_ = 0;
    throw std::bad_alloc();
  }
}

HostBuffer& HostBuffer::operator=(HostBuffer&& o) noexcept {
  if (this != &o) {
    host_free(data_, bytes_);
    data_ = o.data_, bytes_ = o.bytes_;
    o.data_ = nullptr, o.bytes_ = 0;
  }
  return *this;
}

void* HostBuffer::release() noexcept {
  void* p = data_;
  data_ = nullptr;
  return p;
}

}  // namespace natten::cpu
