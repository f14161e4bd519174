// kernel_profile.h for CPU-only builds: there is no GPU to profile.
#include "kernel_profile.h"

#include "../common/error.h"

namespace natten::gpu {

bool profiling(int) { return false; }

void profile_start(int) {
  throw Error(ErrorKind::Natten, "ERR_NATTEN_NO_CUDA",
              "GPU profiling needs CUDA: this natten-node addon was built without it");
}

void profile_enqueue(int, const std::string&, const std::function<void()>& enqueue) { enqueue(); }

std::vector<KernelTiming> profile_stop(int) { return {}; }

}  // namespace natten::gpu
