// Module init: one binding object (loaded by lib/native.ts) with the tensor, device and op functions.
#include <napi.h>

#include "../kernels/common/window.h"
#include "../kernels/runtime/gpu_runtime.h"
#include "addon_env.h"
#include "../engine/cpu/parallel.h"
#include "js_interop.h"
#include "ops.h"
#include "tensor_ops.h"

namespace natten::node {
namespace {

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  set_natten_error_class(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  gpu::BuildInfo b = gpu::build_info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("cuda", Napi::Boolean::New(env, b.cuda));
  o.Set("cudaVersion", Napi::String::New(env, b.cuda_version));
  o.Set("cudaArchs", Napi::String::New(env, b.archs));
  o.Set("cudaRuntimeVersion", Napi::Number::New(env, b.runtime_version));
  o.Set("cudaDriverVersion", Napi::Number::New(env, b.driver_version));
  o.Set("cpuThreads", Napi::Number::New(env, cpu::num_threads()));
  return o;
}

Napi::Value DeviceCount(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), gpu::device_count()); }

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  gpu::DeviceInfo d = gpu::device_info((int)int_arg(info[0], "index"));
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", Napi::String::New(env, d.name));
  o.Set("computeCapability", Napi::String::New(env, std::to_string(d.major) + "." + std::to_string(d.minor)));
  o.Set("major", Napi::Number::New(env, d.major));
  o.Set("minor", Napi::Number::New(env, d.minor));
  o.Set("multiProcessorCount", Napi::Number::New(env, d.sm_count));
  o.Set("totalMemory", Napi::Number::New(env, (double)d.total_memory));
  o.Set("freeMemory", Napi::Number::New(env, (double)d.free_memory));
  o.Set("sharedMemoryPerBlockOptin", Napi::Number::New(env, (double)d.shared_memory_per_block_optin));
  return o;
}

// axisWindow(L, k, s, d, causal, i) -> [start, end) group-local: exposes kernels/common/window.h to tests.
Napi::Value AxisWindow(const Napi::CallbackInfo& info) {
  AxisParams a{(int)int_arg(info[0], "L"), (int)int_arg(info[1], "k"), (int)int_arg(info[2], "s"),
               (int)int_arg(info[3], "d"), info[4].ToBoolean().Value()};
  Range r = axis_window(a, (int)int_arg(info[5], "i"));
  Range inv = axis_inverse_window(a, (int)int_arg(info[5], "i"));
  Napi::Array out = Napi::Array::New(info.Env(), 4);
  out.Set(0u, r.start);
  out.Set(1u, r.end);
  out.Set(2u, inv.start);
  out.Set(3u, inv.end);
  return out;
}

// noteExitCode(code): lib/ reports the process's exit code as it starts to exit (see gpu::note_exit_code).
Napi::Value NoteExitCode(const Napi::CallbackInfo& info) {
  gpu::note_exit_code((int)int_arg(info[0], "code"));
  return info.Env().Undefined();
}

// faultDevice(device): natten.internal.triggerDeviceFault, a kernel that loses the device (tests).
Napi::Value FaultDevice(const Napi::CallbackInfo& info) {
  gpu::fault_async(device_arg(info[0], "device").index);
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  init_addon_env(env);
  exports.Set("setErrorClass", Napi::Function::New<guarded<SetErrorClass>>(env, "setErrorClass"));
  exports.Set("buildInfo", Napi::Function::New<guarded<BuildInfo>>(env, "buildInfo"));
  exports.Set("deviceCount", Napi::Function::New<guarded<DeviceCount>>(env, "deviceCount"));
  exports.Set("deviceInfo", Napi::Function::New<guarded<DeviceInfo>>(env, "deviceInfo"));
  exports.Set("noteExitCode", Napi::Function::New<guarded<NoteExitCode>>(env, "noteExitCode"));
  exports.Set("faultDevice", Napi::Function::New<guarded<FaultDevice>>(env, "faultDevice"));
  exports.Set("axisWindow", Napi::Function::New<guarded<AxisWindow>>(env, "axisWindow"));
  register_tensor_ops(env, exports);
  register_ops(env, exports);
  return exports;
}

}  // namespace
}  // namespace natten::node

static Napi::Object InitNatten(Napi::Env env, Napi::Object exports) { return natten::node::Init(env, exports); }
NODE_API_MODULE(natten, InitNatten)
