// Run-time switches of kernel variants (kernel_switches.h).
#include "kernel_switches.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace natten::gpu {
namespace {

// "1" turns a switch on, "0" off; anything else (or unset) keeps its default.
bool env_flag(const char* name, bool fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr) return fallback;
  if (std::strcmp(v, "1") == 0) return true;
  if (std::strcmp(v, "0") == 0) return false;
  return fallback;
}

struct State {
  std::mutex mutex;
  KernelSwitches switches;
  std::atomic<uint64_t> tma_launches{0};
  std::atomic<uint64_t> persistent_launches{0};
  std::atomic<uint64_t> ws_persistent_launches{0};

  State() {
    switches.backward_tma = env_flag("NATTEN_BWD_WGMMA_TMA", switches.backward_tma);
    switches.backward_persistent = env_flag("NATTEN_BWD_WGMMA_PERSISTENT", switches.backward_persistent);
    switches.forward_ws_persistent = env_flag("NATTEN_FWD_WS_PERSISTENT", switches.forward_ws_persistent);
  }
};

State& state() {
  static State* s = new State();  // never destroyed: launches may run while the process exits
  return *s;
}

}  // namespace

KernelSwitches kernel_switches() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().switches;
}

void set_kernel_switches(const KernelSwitches& s) {
  std::lock_guard<std::mutex> lock(state().mutex);
  state().switches = s;
}

KernelSwitchLaunches kernel_switch_launches() {
  KernelSwitchLaunches n;
  n.backward_tma = state().tma_launches.load(std::memory_order_relaxed);
  n.backward_persistent = state().persistent_launches.load(std::memory_order_relaxed);
  n.forward_ws_persistent = state().ws_persistent_launches.load(std::memory_order_relaxed);
  return n;
}

void count_backward_tma_launch() { state().tma_launches.fetch_add(1, std::memory_order_relaxed); }

void count_backward_persistent_launch() { state().persistent_launches.fetch_add(1, std::memory_order_relaxed); }

void count_forward_ws_persistent_launch() { state().ws_persistent_launches.fetch_add(1, std::memory_order_relaxed); }

}  // namespace natten::gpu
