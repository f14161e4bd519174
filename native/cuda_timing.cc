// Benchmark-only bindings (typed in lib/native.ts): CUDA-event timers on a device's stream and a spin kernel
// to queue work behind.
//   gpuTimerCreate({device}) -> timer; gpuTimerStart({timer}); gpuTimerStop({timer});
//   gpuTimerElapsed({timer}) -> ms (blocks the calling thread until the stop event has passed: benchmarks only);
//   gpuSpin({device, microseconds}).
#include <napi.h>

#include <memory>

#include "../kernels/runtime/gpu_runtime.h"
#include "js_interop.h"
#include "options_arg.h"

namespace natten::node {
namespace {

// Tags our timer Externals so any other External (a storage handle, say) is rejected, not dereferenced.
const napi_type_tag kTimerTag = {0x6e617474656e5f74ull, 0x696d65725f5f5f31ull};

/// options.timer, a handle from gpuTimerCreate.
gpu::Timer& timer_arg(const Napi::CallbackInfo& info) {
  const Napi::Value v = Options(info).get("timer");
  if (!v.IsExternal() || !v.As<Napi::External<gpu::Timer>>().CheckTypeTag(&kTimerTag))
    throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", "options.timer must be a handle from gpuTimerCreate");
  return *v.As<Napi::External<gpu::Timer>>().Data();
}

/// options.device, which must be a CUDA device.
int cuda_device_arg(const Options& o) {
  const Device d = o.device();
  if (d.is_cpu())
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_DEVICE",
                "options.device: GPU timers need a CUDA device, got cpu");
  return d.index;
}

Napi::Value TimerCreate(const Napi::CallbackInfo& info) {
  auto timer = std::make_unique<gpu::Timer>(cuda_device_arg(Options(info)));
  auto handle =
      Napi::External<gpu::Timer>::New(info.Env(), timer.release(), [](Napi::Env, gpu::Timer* t) { delete t; });
  handle.TypeTag(&kTimerTag);
  return handle;
}
NATTEN_BINDING("gpuTimerCreate", TimerCreate);

Napi::Value TimerStart(const Napi::CallbackInfo& info) {
  timer_arg(info).start();
  return info.Env().Undefined();
}
NATTEN_BINDING("gpuTimerStart", TimerStart);

Napi::Value TimerStop(const Napi::CallbackInfo& info) {
  timer_arg(info).stop();
  return info.Env().Undefined();
}
NATTEN_BINDING("gpuTimerStop", TimerStop);

Napi::Value TimerElapsed(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), timer_arg(info).elapsed_ms());
}
NATTEN_BINDING("gpuTimerElapsed", TimerElapsed);

Napi::Value Spin(const Napi::CallbackInfo& info) {
  const Options o(info);
  gpu::spin_async(cuda_device_arg(o), o.number("microseconds"));
  return info.Env().Undefined();
}
NATTEN_BINDING("gpuSpin", Spin);

}  // namespace
}  // namespace natten::node
