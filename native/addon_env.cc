#include "addon_env.h"

#include <dlfcn.h>

#include <mutex>

namespace natten::node {
namespace {

/// Node unloads an addon when the last environment that loaded it is torn down (a worker that alone
/// used natten exits); the CPU pool and the device threads would then run unmapped code. Re-opening
/// ourselves with RTLD_NODELETE keeps the library mapped until the process ends.
void pin_library() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&pin_library), &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

}  // namespace

void init_addon_env(Napi::Env env) {
  static std::once_flag pinned;
  std::call_once(pinned, pin_library);
  auto* state = new AddonEnv;
  state->completion = Completion::create(env);
  env.SetInstanceData<AddonEnv>(state);  // deleted at environment teardown
}

AddonEnv& addon_env(Napi::Env env) { return *env.GetInstanceData<AddonEnv>(); }

}  // namespace natten::node
