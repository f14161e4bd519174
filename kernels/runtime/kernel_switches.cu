// Run-time switches of kernel variants (kernel_switches.h).
#include "kernel_switches.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace natten::gpu {
namespace {

bool env_on(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, "1") == 0;
}

std::atomic<bool>& backward_tma() {
  static std::atomic<bool> on{env_on("NATTEN_BWD_WGMMA_TMA")};
  return on;
}

std::atomic<uint64_t> tma_launches{0};

}  // namespace

KernelSwitches kernel_switches() {
  KernelSwitches s;
  s.backward_tma = backward_tma().load(std::memory_order_relaxed);
  return s;
}

void set_kernel_switches(const KernelSwitches& s) { backward_tma().store(s.backward_tma, std::memory_order_relaxed); }

uint64_t backward_tma_launches() { return tma_launches.load(std::memory_order_relaxed); }

void count_backward_tma_launch() { tma_launches.fetch_add(1, std::memory_order_relaxed); }

}  // namespace natten::gpu
