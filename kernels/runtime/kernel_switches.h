// Run-time switches of kernel variants (natten.internal, tests and A/B timings; not part of the stable API).
// Each starts from its default or its environment variable ("1" on, "0" off), read once at first use, and can
// be changed at any time; a launch reads the switches when it is enqueued.
//   backward_tma         the wgmma backward loads Q and dO with TMA (fna_backward_wgmma_tma.h); on by
//                        default (3-5% faster than row copies on the 1-D and k31 problems, H200);
//                        NATTEN_BWD_WGMMA_TMA=0 switches it off
//   backward_persistent  the wgmma backward runs persistent CTAs, each walking KV tiles one after another
//                        (fna_backward_wgmma_kernel.cuh); off by default (H200: 22% slower with row copies,
//                        within 1% with TMA loads);
//                        NATTEN_BWD_WGMMA_PERSISTENT=1
//   forward_ws_persistent the 'wgmma-ws' forward runs persistent CTAs, each walking Q tiles one after another
//                        with the next tile's loads under the current one's last steps and epilogue
//                        (forward_ws_kernel.cuh); on by default; NATTEN_FWD_WS_PERSISTENT=0 switches it off
//   persistent_ctas      how many CTAs a persistent launch runs at most (0: one per SM); tests set a few so
//                        that every CTA walks many tiles
#pragma once
#include <stdint.h>

namespace natten::gpu {

struct KernelSwitches {
  bool backward_tma = true;
  bool backward_persistent = false;
  bool forward_ws_persistent = true;
  int persistent_ctas = 0;
};

/// CTAs of a persistent launch over `items` work items: one per SM (one CTA fits an SM), at most `cap`
/// when cap > 0 (KernelSwitches::persistent_ctas), never more than there are items, at least one.
inline unsigned persistent_launch_ctas(int64_t items, int sm_count, int cap) {
  int64_t n = sm_count;
  if (cap > 0 && cap < n) n = cap;
  if (items < n) n = items;
  return (unsigned)(n < 1 ? 1 : n);
}

/// The switches now.
KernelSwitches kernel_switches();
/// Sets the switches (CPU-only builds: ERR_NATTEN_NO_CUDA).
void set_kernel_switches(const KernelSwitches& s);

/// Launches so far that took a switched path: tests check that the path they mean to cover ran.
struct KernelSwitchLaunches {
  uint64_t backward_tma = 0;
  uint64_t backward_persistent = 0;
  uint64_t forward_ws_persistent = 0;
};
KernelSwitchLaunches kernel_switch_launches();
/// Counts one launch with TMA loads / one persistent launch of the wgmma backward.
void count_backward_tma_launch();
void count_backward_persistent_launch();
/// Counts one persistent launch of the 'wgmma-ws' forward.
void count_forward_ws_persistent_launch();

}  // namespace natten::gpu
