// The start every op binding shares (docs/design.md §1): its one options object, the op's dtype
// (options.dtype), and the storages it names, each checked to be on the op's one device and large enough
// for what the op touches (the check that keeps a directly called addon inside its buffers). NaCall adds
// options.problem and the problem's buffer sizes. dispatch() runs the op where its storages live.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "../kernels/runtime/kernel_profile.h"
#include "cpu_queue.h"
#include "js_interop.h"
#include "options_arg.h"
#include "problem_arg.h"

namespace natten::node {

/// a * b and a + b of element counts; a RangeError (ERR_NATTEN_INVALID_SHAPE) when they overflow 64 bits.
int64_t checked_mul(int64_t a, int64_t b);
int64_t checked_add(int64_t a, int64_t b);

class OpCall {
 public:
  explicit OpCall(const Napi::CallbackInfo& info);

  const Napi::Env env;
  const Options options;
  const DType t;

  /// options[key]: a required storage of at least `elems` elements of the op dtype (fp32 when `f32`).
  void* req(const char* key, int64_t elems, bool f32 = false) {
    return req_value(options.get(key), field(key), elems, f32);
  }
  /// options[key] when the op uses it (`wanted`: required then), else null (a storage given anyway is ignored).
  void* opt(const char* key, int64_t elems, bool wanted, bool f32 = false) {
    return wanted ? req(key, elems, f32) : nullptr;
  }
  /// options[key] when given, else null.
  void* maybe(const char* key, int64_t elems, bool f32 = false) {
    const Napi::Value v = options.get(key);
    return Options::present(v) ? req_value(v, field(key), elems, f32) : nullptr;
  }
  /// A storage handle `v` that messages call `name()` (an element of an array option), as req().
  void* req_value(const Napi::Value& v, const ArgName& name, int64_t elems, bool f32 = false);

  /// The device of the op's storages.
  Device device() const { return device_; }
  /// The storages the call named, for work that runs later and must keep them alive.
  const std::vector<StoragePtr>& storages() const { return keep_; }

  /// Runs cpu() on the CPU queue (keeping the storages alive until it is done) or gpu(device index) now
  /// (under the kernel profiler while profile mode is on for the device: kernels/runtime/kernel_profile.h).
  template <class Cpu, class Gpu>
  void dispatch(Cpu cpu, Gpu gpu) {
    if (device_.is_cpu()) {
      CpuQueue::get().enqueue([keep = keep_, cpu] { cpu(); });
    } else if (gpu::profiling(device_.index)) {
      gpu::profile_enqueue(device_.index, "uncaptured op", [&] { gpu(device_.index); });
    } else {
      gpu(device_.index);
    }
  }

 private:
  /// How messages name options[key].
  ArgName field(const char* key) const {
    return [this, key] { return options.name(key); };
  }

  Device device_;
  std::vector<StoragePtr> keep_;
};

/// An NA op call: OpCall with options.problem and the sizes of its buffers.
class NaCall : public OpCall {
 public:
  explicit NaCall(const Napi::CallbackInfo& info)
      : OpCall(info), p(problem_arg(options.object("problem"))), s(problem_sizes(p)) {}

  const NaProblem p;
  const ProblemSizes s;

  /// options.config (absent or null: the defaults).
  FusedConfig config() const {
    const Napi::Value v = options.get("config");
    return Options::present(v) ? config_arg(Options(v, &options, "config"), p.dims) : FusedConfig{};
  }

  /// Runs the op where its storages live, cpu_op(p, t, a) on the CPU queue or gpu_op(device, p, t, a, extra...)
  /// now, and returns the binding's result (undefined).
  template <class Args, class... Extra>
  Napi::Value run(void (*cpu_op)(const NaProblem&, DType, const Args&),
                  void (*gpu_op)(int, const NaProblem&, DType, const Args&, const Extra&...), const Args& a,
                  const Extra&... extra) {
    dispatch([p = p, t = t, a, cpu_op] { cpu_op(p, t, a); }, [&](int dev) { gpu_op(dev, p, t, a, extra...); });
    return env.Undefined();
  }
};

}  // namespace natten::node
