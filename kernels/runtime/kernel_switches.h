// Run-time switches of kernel variants that are built but still being checked on a GPU (natten.internal,
// tests and A/B timings; not part of the stable API). Each starts from its environment variable, read once
// at first use, and can be changed at any time; a launch reads the switch when it is enqueued.
//   backward_tma  the wgmma backward loads Q and dO with TMA (fna_backward_wgmma_tma.h);
//                 NATTEN_BWD_WGMMA_TMA=1
#pragma once
#include <stdint.h>

namespace natten::gpu {

struct KernelSwitches {
  bool backward_tma = false;
};

/// The switches now.
KernelSwitches kernel_switches();
/// Sets the switches (CPU-only builds: ERR_NATTEN_NO_CUDA).
void set_kernel_switches(const KernelSwitches& s);

/// How many wgmma backward launches so far loaded Q and dO with TMA: tests check that the path they mean
/// to cover ran.
uint64_t backward_tma_launches();
/// Counts one such launch.
void count_backward_tma_launch();

}  // namespace natten::gpu
