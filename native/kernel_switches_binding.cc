// kernelSwitches({backwardTma?, backwardPersistent?, persistentCtas?}) -> {backwardTma, backwardPersistent,
// persistentCtas, backwardTmaLaunches, backwardPersistentLaunches}: natten.internal.kernelSwitches, the
// run-time switches of kernel variants still being checked on a GPU (kernels/runtime/kernel_switches.h).
// Fields given are set first (CPU-only builds: ERR_NATTEN_NO_CUDA); the answer is the state after.
#include <napi.h>

#include "../kernels/runtime/kernel_switches.h"
#include "js_interop.h"
#include "options_arg.h"

namespace natten::node {
namespace {

Napi::Value KernelSwitches(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && Options::present(info[0])) {
    const Options opts(info);
    if (opts.has("backwardTma") || opts.has("backwardPersistent") || opts.has("forwardWsPersistent") ||
        opts.has("persistentCtas")) {
      gpu::KernelSwitches s = gpu::kernel_switches();
      s.backward_tma = opts.flag("backwardTma", s.backward_tma);
      s.backward_persistent = opts.flag("backwardPersistent", s.backward_persistent);
      s.forward_ws_persistent = opts.flag("forwardWsPersistent", s.forward_ws_persistent);
      s.persistent_ctas = (int)opts.integer_or("persistentCtas", s.persistent_ctas, 0, 1 << 20);
      gpu::set_kernel_switches(s);
    }
  }
  const gpu::KernelSwitches s = gpu::kernel_switches();
  const gpu::KernelSwitchLaunches n = gpu::kernel_switch_launches();
  Napi::Object out = Napi::Object::New(env);
  out.Set("backwardTma", Napi::Boolean::New(env, s.backward_tma));
  out.Set("backwardPersistent", Napi::Boolean::New(env, s.backward_persistent));
  out.Set("forwardWsPersistent", Napi::Boolean::New(env, s.forward_ws_persistent));
  out.Set("persistentCtas", Napi::Number::New(env, s.persistent_ctas));
  out.Set("backwardTmaLaunches", Napi::Number::New(env, (double)n.backward_tma));
  out.Set("backwardPersistentLaunches", Napi::Number::New(env, (double)n.backward_persistent));
  out.Set("forwardWsPersistentLaunches", Napi::Number::New(env, (double)n.forward_ws_persistent));
  return out;
}
NATTEN_BINDING("kernelSwitches", KernelSwitches);

}  // namespace
}  // namespace natten::node
