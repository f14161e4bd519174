// Run-time switches of kernel variants that are built but still being checked on a GPU (natten.internal,
// tests and A/B timings; not part of the stable API). Each starts from its environment variable, read once
// at first use, and can be changed at any time; a launch reads the switches when it is enqueued.
//   backward_tma         the wgmma backward loads Q and dO with TMA (fna_backward_wgmma_tma.h);
//                        NATTEN_BWD_WGMMA_TMA=1
//   backward_persistent  the wgmma backward runs persistent CTAs, each walking KV tiles one after another
//                        (fna_backward_wgmma_kernel.cuh); NATTEN_BWD_WGMMA_PERSISTENT=1
//   persistent_ctas      how many CTAs a persistent launch runs at most (0: one per SM); tests set a few so
//                        that every CTA walks many tiles
#pragma once
#include <stdint.h>

namespace natten::gpu {

struct KernelSwitches {
  bool backward_tma = false;
  bool backward_persistent = false;
  int persistent_ctas = 0;
};

/// The switches now.
KernelSwitches kernel_switches();
/// Sets the switches (CPU-only builds: ERR_NATTEN_NO_CUDA).
void set_kernel_switches(const KernelSwitches& s);

/// Launches so far that took a switched path: tests check that the path they mean to cover ran.
struct KernelSwitchLaunches {
  uint64_t backward_tma = 0;
  uint64_t backward_persistent = 0;
};
KernelSwitchLaunches kernel_switch_launches();
/// Counts one launch with TMA loads / one persistent launch of the wgmma backward.
void count_backward_tma_launch();
void count_backward_persistent_launch();

}  // namespace natten::gpu
