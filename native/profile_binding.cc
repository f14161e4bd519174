// Profile-mode bindings (`natten-node profile`; typed in lib/native.ts):
//   profileStart({device}): every op enqueued on cuda:device from now on has its kernels timed one by one
//   (kernels/runtime/kernel_profile.h);
//   profileStop({device}) -> [{name, ms}]: ends it and returns the kernels in launch order (blocks the
//   calling thread until the device's stream has run them: a profiling tool, not a server path).
#include <napi.h>

#include "../kernels/runtime/kernel_profile.h"
#include "js_interop.h"
#include "options_arg.h"

namespace natten::node {
namespace {

int profiled_device(const Napi::CallbackInfo& info) { return cuda_device_arg(info, "kernel profiling"); }

Napi::Value ProfileStart(const Napi::CallbackInfo& info) {
  gpu::profile_start(profiled_device(info));
  return info.Env().Undefined();
}
NATTEN_BINDING("profileStart", ProfileStart);

Napi::Value ProfileStop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<gpu::KernelTiming> timings = gpu::profile_stop(profiled_device(info));
  Napi::Array out = Napi::Array::New(env, timings.size());
  for (size_t i = 0; i < timings.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", Napi::String::New(env, timings[i].name));
    o.Set("ms", Napi::Number::New(env, timings[i].ms));
    out.Set(uint32_t(i), o);
  }
  return out;
}
NATTEN_BINDING("profileStop", ProfileStop);

}  // namespace
}  // namespace natten::node
