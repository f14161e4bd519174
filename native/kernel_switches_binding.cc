// kernelSwitches({backwardTma?}) -> {backwardTma, backwardTmaLaunches}: natten.internal.kernelSwitches, the
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
    if (opts.has("backwardTma")) {
      gpu::KernelSwitches s = gpu::kernel_switches();
      s.backward_tma = opts.flag("backwardTma", s.backward_tma);
      gpu::set_kernel_switches(s);
    }
  }
  const gpu::KernelSwitches s = gpu::kernel_switches();
  Napi::Object out = Napi::Object::New(env);
  out.Set("backwardTma", Napi::Boolean::New(env, s.backward_tma));
  out.Set("backwardTmaLaunches", Napi::Number::New(env, (double)gpu::backward_tma_launches()));
  return out;
}
NATTEN_BINDING("kernelSwitches", KernelSwitches);

}  // namespace
}  // namespace natten::node
