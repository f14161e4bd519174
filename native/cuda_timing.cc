// Benchmark-only bindings: CUDA-event timers on a device's stream and a spin kernel to queue work behind.
//   gpuTimerCreate(device) -> handle; gpuTimerStart(handle); gpuTimerStop(handle);
//   gpuTimerElapsed(handle) -> ms (blocks the calling thread until the stop event has passed: benchmarks only);
//   gpuSpin(device, microseconds).
#include <napi.h>

#include <memory>

#include "../kernels/runtime/gpu_runtime.h"
#include "js_interop.h"

namespace natten::node {
namespace {

gpu::Timer& timer_arg(const Napi::Value& v) {
  if (!v.IsExternal())
    throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", "timer must be a handle from gpuTimerCreate");
  return *v.As<Napi::External<gpu::Timer>>().Data();
}

int cuda_device_arg(const Napi::Value& v) {
  const Device d = device_arg(v, "device");
  if (d.is_cpu()) throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_DEVICE", "GPU timers need a CUDA device, got cpu");
  return d.index;
}

Napi::Value TimerCreate(const Napi::CallbackInfo& info) {
  auto timer = std::make_unique<gpu::Timer>(cuda_device_arg(info[0]));
  return Napi::External<gpu::Timer>::New(info.Env(), timer.release(), [](Napi::Env, gpu::Timer* t) { delete t; });
}

Napi::Value TimerStart(const Napi::CallbackInfo& info) {
  timer_arg(info[0]).start();
  return info.Env().Undefined();
}

Napi::Value TimerStop(const Napi::CallbackInfo& info) {
  timer_arg(info[0]).stop();
  return info.Env().Undefined();
}

Napi::Value TimerElapsed(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), timer_arg(info[0]).elapsed_ms());
}

Napi::Value Spin(const Napi::CallbackInfo& info) {
  const int device = cuda_device_arg(info[0]);
  if (!info[1].IsNumber()) throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", "microseconds must be a number");
  gpu::spin_async(device, info[1].As<Napi::Number>().DoubleValue());
  return info.Env().Undefined();
}

}  // namespace

void register_cuda_timing(Napi::Env env, Napi::Object exports) {
  exports.Set("gpuTimerCreate", Napi::Function::New<guarded<TimerCreate>>(env, "gpuTimerCreate"));
  exports.Set("gpuTimerStart", Napi::Function::New<guarded<TimerStart>>(env, "gpuTimerStart"));
  exports.Set("gpuTimerStop", Napi::Function::New<guarded<TimerStop>>(env, "gpuTimerStop"));
  exports.Set("gpuTimerElapsed", Napi::Function::New<guarded<TimerElapsed>>(env, "gpuTimerElapsed"));
  exports.Set("gpuSpin", Napi::Function::New<guarded<Spin>>(env, "gpuSpin"));
}

}  // namespace natten::node
