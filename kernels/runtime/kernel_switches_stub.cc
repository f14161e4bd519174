// kernel_switches.h for CPU-only builds: there are no kernels to switch.
#include "kernel_switches.h"

#include "../common/error.h"

namespace natten::gpu {

KernelSwitches kernel_switches() { return KernelSwitches{}; }

void set_kernel_switches(const KernelSwitches&) {
  throw Error(ErrorKind::Natten, "ERR_NATTEN_NO_CUDA",
              "this natten-node addon was built without CUDA: it has no kernel switches to set");
}

KernelSwitchLaunches kernel_switch_launches() { return KernelSwitchLaunches{}; }

void count_backward_tma_launch() {}

void count_backward_persistent_launch() {}

}  // namespace natten::gpu
