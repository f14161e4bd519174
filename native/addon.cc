// Module init: one binding object (loaded and typed by lib/native.ts) with every binding the native/ files
// register (NATTEN_BINDING), and the bindings of the build, the devices and the process.
#include <napi.h>

#include "../engine/cpu/cpu_features.h"
#include "../engine/cpu/kernel_table.h"
#include "../engine/cpu/parallel.h"
#include "../kernels/common/window.h"
#include "../kernels/dispatch/tensor_ops.h"
#include "../kernels/runtime/gpu_runtime.h"
#include "addon_env.h"
#include "js_interop.h"
#include "options_arg.h"

namespace natten::node {
namespace {

// setErrorClass({errorClass}): lib/errors.ts's NattenError, the class of the addon's library errors.
Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  const Napi::Value ctor = Options(info).get("errorClass");
  if (!ctor.IsFunction())
    throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", "options.errorClass must be a class");
  set_natten_error_class(ctor.As<Napi::Function>());
  return info.Env().Undefined();
}
NATTEN_BINDING("setErrorClass", SetErrorClass);

// buildInfo() -> {cuda, cudaVersion, cudaArchs, cudaRuntimeVersion, cudaDriverVersion, cudaDeviceStatus,
// cpuThreads, cublasLt, cpuSimd, cpuSimdLevels, hostSimd}
Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  gpu::BuildInfo b = gpu::build_info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("cuda", Napi::Boolean::New(env, b.cuda));
  o.Set("cudaVersion", Napi::String::New(env, b.cuda_version));
  o.Set("cudaArchs", Napi::String::New(env, b.archs));
  o.Set("cudaRuntimeVersion", Napi::Number::New(env, b.runtime_version));
  o.Set("cudaDriverVersion", Napi::Number::New(env, b.driver_version));
  o.Set("cudaDeviceStatus", Napi::String::New(env, b.device_status));
  o.Set("cpuThreads", Napi::Number::New(env, cpu::num_threads()));
  o.Set("cublasLt", Napi::String::New(env, b.cuda ? launch::cublaslt_library() : std::string()));
  o.Set("cpuSimd", Napi::String::New(env, cpu::simd_level()));
  o.Set("cpuSimdLevels", Napi::String::New(env, cpu::simd_levels_compiled()));
  const std::vector<std::string> host = cpu::host_simd();
  Napi::Array simd = Napi::Array::New(env, host.size());
  for (size_t i = 0; i < host.size(); i++) simd.Set(uint32_t(i), Napi::String::New(env, host[i]));
  o.Set("hostSimd", simd);
  return o;
}
NATTEN_BINDING("buildInfo", BuildInfo);

// deviceCount(): the CUDA devices visible (0 in a CPU-only build).
Napi::Value DeviceCount(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), gpu::device_count()); }
NATTEN_BINDING("deviceCount", DeviceCount);

// deviceInfo({device}): the properties of cuda:device.
Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  gpu::DeviceInfo d = gpu::device_info(Options(info).device().index);
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
NATTEN_BINDING("deviceInfo", DeviceInfo);

// axisWindow({length, kernel, stride, dilation, causal, index}) -> [start, end, inverseStart, inverseEnd]
// (group-local): exposes kernels/common/window.h to tests. A pure computation: only what would divide by
// zero is rejected (its invariants are the caller's, as with the oracle it is compared with).
Napi::Value AxisWindow(const Napi::CallbackInfo& info) {
  const Options o(info);
  const int max = 1 << 30;
  AxisParams a{(int)o.integer("length", 1, max), (int)o.integer("kernel", 1, max), (int)o.integer("stride", 1, max),
               (int)o.integer("dilation", 1, max), o.flag("causal", false)};
  const int i = (int)o.integer("index", 0, a.length - 1);
  const Range r = axis_window(a, i), inv = axis_inverse_window(a, i);
  Napi::Array out = Napi::Array::New(info.Env(), 4);
  out.Set(0u, r.start);
  out.Set(1u, r.end);
  out.Set(2u, inv.start);
  out.Set(3u, inv.end);
  return out;
}
NATTEN_BINDING("axisWindow", AxisWindow);

// noteExitCode({code}): lib/ reports the process's exit code as it starts to exit (see gpu::note_exit_code).
Napi::Value NoteExitCode(const Napi::CallbackInfo& info) {
  gpu::note_exit_code((int)Options(info).integer("code", INT32_MIN, INT32_MAX));
  return info.Env().Undefined();
}
NATTEN_BINDING("noteExitCode", NoteExitCode);

// faultDevice({device}): natten.internal.triggerDeviceFault, a kernel that loses the device (tests).
Napi::Value FaultDevice(const Napi::CallbackInfo& info) {
  gpu::fault_async(Options(info).device().index);
  return info.Env().Undefined();
}
NATTEN_BINDING("faultDevice", FaultDevice);

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  init_addon_env(env);
  export_bindings(env, exports);
  return exports;
}

}  // namespace
}  // namespace natten::node

static Napi::Object InitNatten(Napi::Env env, Napi::Object exports) { return natten::node::Init(env, exports); }
NODE_API_MODULE(natten, InitNatten)
