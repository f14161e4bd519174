#include "host_buffer.h"

#include <stdlib.h>
#include <sys/mman.h>

#include <deque>
#include <mutex>
#include <new>
#include <utility>

namespace natten::cpu {
namespace {

/// Freed mapped blocks kept for reuse by exact size, oldest evicted first: a loop that allocates the same
/// shapes again (each op's output, each read-back) then pays no page faults (a fresh mapping faults and
/// clears every 4 KiB page: +20-40% on millisecond CPU ops). Bounded by kCachedBytes; what does not fit
/// is unmapped at once, so a process never holds more than that beyond what it uses.
constexpr size_t kCachedBytes = size_t(32) << 20;

class BlockCache {
 public:
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it) {  // newest first: warmest pages
      if (it->first != bytes) continue;
      void* p = it->second;
      blocks_.erase(std::next(it).base());
      held_ -= bytes;
      return p;
    }
    return nullptr;
  }
  void give(void* p, size_t bytes) {
    std::deque<std::pair<size_t, void*>> evicted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (bytes > kCachedBytes / 4) {
        evicted.emplace_back(bytes, p);
      } else {
        blocks_.emplace_back(bytes, p);
        held_ += bytes;
        while (held_ > kCachedBytes) {
          evicted.push_back(blocks_.front());
          held_ -= blocks_.front().first;
          blocks_.pop_front();
        }
      }
    }
    for (auto& [n, q] : evicted) munmap(q, n);  // outside the lock: unmapping costs
  }

 private:
  std::mutex mutex_;
  std::deque<std::pair<size_t, void*>> blocks_;  // (bytes, block), oldest first
  size_t held_ = 0;
};

BlockCache& block_cache() {
  static auto* cache = new BlockCache();  // never destroyed: threads may free blocks while the process exits
  return *cache;
}

}  // namespace

void* host_alloc(size_t bytes) noexcept {
  if (bytes == 0) return nullptr;
  if (bytes >= kMappedBytes) {
    if (void* p = block_cache().take(bytes)) return p;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;  // page aligned
  }
  return aligned_alloc(64, (bytes + 63) & ~size_t(63));  // aligned_alloc needs a multiple of the alignment
}

void host_free(void* p, size_t bytes) noexcept {
  if (!p) return;
  if (bytes >= kMappedBytes) block_cache().give(p, bytes);
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
