// Node-API bindings of the NA ops (docs/design.md §4, §6). Each takes the problem object, a dtype code and storage
// handles (outputs are allocated by lib/ops with native.empty), re-checks every buffer size natively,
// and dispatches on the tensors' device: the CPU enqueues a task on the CPU queue (capturing the
// storages so they outlive the call), a CUDA device calls kernels/dispatch/na_ops.h, which enqueues on the
// device's stream. Both return at once.
#include <napi.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../kernels/runtime/gpu_runtime.h"
#include "../kernels/dispatch/na_ops.h"
#include "addon_env.h"
#include "after_device.h"
#include "../engine/cpu/engine.h"
#include "../engine/cpu/parallel.h"
#include "cpu_queue.h"
#include "js_interop.h"
#include "problem_arg.h"

namespace natten::node {
namespace {

bool present(const Napi::Value& v) { return !v.IsUndefined() && !v.IsNull(); }

/// The storages of one op call: all on one device, each large enough for what the op touches.
class Buffers {
 public:
  explicit Buffers(DType t) : t_(t) {}

  /// A required buffer of `elems` elements (of the op dtype, or fp32 when f32 is set).
  void* req(const Napi::Value& v, const char* name, int64_t elems, bool f32 = false) {
    if (!present(v)) throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", std::string(name) + " is required");
    StoragePtr s = unwrap_storage(v, name);
    if (keep_.empty()) device_ = s->device();
    else if (!(s->device() == device_))
      throw Error(ErrorKind::Type, "ERR_NATTEN_DEVICE_MISMATCH",
                  std::string(name) + " is on " + name_of(s->device()) + ", the other tensors on " + name_of(device_));
    const int64_t bytes = elems * (f32 ? 4 : dtype_size(t_));
    if ((int64_t)s->bytes() < bytes)
      throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_SHAPE",
                  std::string(name) + " holds " + std::to_string(s->bytes()) + " bytes, the problem needs " +
                      std::to_string(bytes));
    keep_.push_back(s);
    return s->data();
  }
  /// A buffer the op uses only when `wanted`; it must then be given, and must be absent otherwise.
  void* opt(const Napi::Value& v, const char* name, int64_t elems, bool wanted, bool f32 = false) {
    if (!wanted) {
      if (present(v))
        throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE",
                    std::string(name) + " was given but the problem does not use it");
      return nullptr;
    }
    return req(v, name, elems, f32);
  }
  /// A buffer that may be omitted (null pointer then).
  void* maybe(const Napi::Value& v, const char* name, int64_t elems, bool f32 = false) {
    return present(v) ? req(v, name, elems, f32) : nullptr;
  }

  Device device() const { return device_; }

  /// Runs cpu() on the CPU queue (keeping the storages alive until it is done) or gpu(device) now.
  template <class Cpu, class Gpu>
  void dispatch(Cpu cpu, Gpu gpu) {
    if (device_.is_cpu()) {
      CpuQueue::get().enqueue([keep = keep_, cpu] { cpu(); });
    } else {
      gpu(device_.index);
    }
  }

 private:
  static std::string name_of(Device d) { return d.is_cpu() ? "cpu" : "cuda:" + std::to_string(d.index); }
  DType t_;
  Device device_;
  std::vector<StoragePtr> keep_;
};

[[noreturn]] void no_cuda_kernel(const char* op) {
  throw Error(ErrorKind::Natten, "ERR_NATTEN_UNSUPPORTED", std::string(op) + " has no CUDA implementation yet");
}

int64_t count_arg(const Napi::Value& v, const char* name) {
  const int64_t n = int_arg(v, name);
  if (n < 0) throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE", std::string(name) + " must be >= 0");
  return n;
}

// naForward(problem, dtype, q, k, v, extraK, extraV, out, lse, config)
Napi::Value NaForward(const Napi::CallbackInfo& info) {
  const NaProblem p = problem_arg(info[0]);
  const DType t = dtype_arg(info[1], "dtype");
  const ProblemSizes s = problem_sizes(p);
  Buffers b(t);
  FusedForwardArgs a;
  a.q = b.req(info[2], "q", s.fused_q);
  a.k = b.req(info[3], "k", s.fused_k);
  a.v = b.req(info[4], "v", s.fused_v);
  a.extra_k = b.opt(info[5], "additionalKeys", s.fused_ek, p.n_extra > 0);
  a.extra_v = b.opt(info[6], "additionalValues", s.fused_ev, p.n_extra > 0);
  a.out = b.req(info[7], "output", s.fused_out);
  a.lse = static_cast<float*>(b.maybe(info[8], "lse", s.lse, true));
  const FusedConfig c = config_arg(info[9], p.dims);
  b.dispatch([p, t, a] { cpu::fna_forward(p, t, a); }, [&](int dev) { launch::na_forward(dev, p, t, a, c); });
  return info.Env().Undefined();
}

// naForwardNaive(problem, dtype, q, k, v, extraK, extraV, out, lse): the benchmark's single-thread loop.
Napi::Value NaForwardNaive(const Napi::CallbackInfo& info) {
  const NaProblem p = problem_arg(info[0]);
  const DType t = dtype_arg(info[1], "dtype");
  const ProblemSizes s = problem_sizes(p);
  Buffers b(t);
  FusedForwardArgs a;
  a.q = b.req(info[2], "q", s.fused_q);
  a.k = b.req(info[3], "k", s.fused_k);
  a.v = b.req(info[4], "v", s.fused_v);
  a.extra_k = b.opt(info[5], "additionalKeys", s.fused_ek, p.n_extra > 0);
  a.extra_v = b.opt(info[6], "additionalValues", s.fused_ev, p.n_extra > 0);
  a.out = b.req(info[7], "output", s.fused_out);
  a.lse = static_cast<float*>(b.maybe(info[8], "lse", s.lse, true));
  b.dispatch([p, t, a] { cpu::fna_forward_naive(p, t, a); }, [](int) { no_cuda_kernel("naForwardNaive"); });
  return info.Env().Undefined();
}

// naBackward(problem, dtype, q, k, v, extraK, extraV, out, lse, dOut, dq, dk, dv, dExtraK, dExtraV, config)
Napi::Value NaBackward(const Napi::CallbackInfo& info) {
  const NaProblem p = problem_arg(info[0]);
  const DType t = dtype_arg(info[1], "dtype");
  const ProblemSizes s = problem_sizes(p);
  const bool extra = p.n_extra > 0;
  Buffers b(t);
  FusedBackwardArgs a;
  a.q = b.req(info[2], "q", s.fused_q);
  a.k = b.req(info[3], "k", s.fused_k);
  a.v = b.req(info[4], "v", s.fused_v);
  a.extra_k = b.opt(info[5], "additionalKeys", s.fused_ek, extra);
  a.extra_v = b.opt(info[6], "additionalValues", s.fused_ev, extra);
  a.out = b.req(info[7], "output", s.fused_out);
  a.lse = static_cast<const float*>(b.req(info[8], "lse", s.lse, true));
  a.d_out = b.req(info[9], "dOut", s.fused_out);
  a.dq = b.req(info[10], "dq", s.fused_q);
  a.dk = b.req(info[11], "dk", s.fused_k);
  a.dv = b.req(info[12], "dv", s.fused_v);
  a.d_extra_k = b.opt(info[13], "dAdditionalKeys", s.fused_ek, extra);
  a.d_extra_v = b.opt(info[14], "dAdditionalValues", s.fused_ev, extra);
  const FusedConfig c = config_arg(info[15], p.dims);
  b.dispatch([p, t, a] { cpu::fna_backward(p, t, a); }, [&](int dev) { launch::na_backward(dev, p, t, a, c); });
  return info.Env().Undefined();
}

void require_same_heads(const NaProblem& p) {
  if (p.heads_kv != p.heads)
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE",
                "the unfused ops need as many key/value heads as query heads (problem.headsKv == problem.heads)");
}

// naQK(problem, dtype, q, k, rpb, extraK, attn)
Napi::Value NaQK(const Napi::CallbackInfo& info) {
  const NaProblem p = problem_arg(info[0]);
  require_same_heads(p);
  const DType t = dtype_arg(info[1], "dtype");
  const ProblemSizes s = problem_sizes(p);
  Buffers b(t);
  QKArgs a;
  a.q = b.req(info[2], "q", s.unfused_q);
  a.k = b.req(info[3], "k", s.unfused_q);
  a.rpb = b.opt(info[4], "rpb", s.rpb, p.has_rpb);
  a.extra_k = b.opt(info[5], "additionalKeys", s.unfused_ek, p.n_extra > 0);
  a.attn = b.req(info[6], "attn", s.attn);
  b.dispatch([p, t, a] { cpu::na_qk(p, t, a); }, [&](int dev) { launch::na_qk(dev, p, t, a); });
  return info.Env().Undefined();
}

// naAV(problem, dtype, attn, v, extraV, out)
Napi::Value NaAV(const Napi::CallbackInfo& info) {
  const NaProblem p = problem_arg(info[0]);
  require_same_heads(p);
  const DType t = dtype_arg(info[1], "dtype");
  const ProblemSizes s = problem_sizes(p);
  Buffers b(t);
  AVArgs a;
  a.attn = b.req(info[2], "attn", s.attn);
  a.v = b.req(info[3], "v", s.unfused_v);
  a.extra_v = b.opt(info[4], "additionalValues", s.unfused_ev, p.n_extra > 0);
  a.out = b.req(info[5], "output", s.unfused_v);
  b.dispatch([p, t, a] { cpu::na_av(p, t, a); }, [&](int dev) { launch::na_av(dev, p, t, a); });
  return info.Env().Undefined();
}

// naQKBackward(problem, dtype, dAttn, q, k, extraK, dq, dk, dRpb, dExtraK)
Napi::Value NaQKBackward(const Napi::CallbackInfo& info) {
  const NaProblem p = problem_arg(info[0]);
  require_same_heads(p);
  const DType t = dtype_arg(info[1], "dtype");
  const ProblemSizes s = problem_sizes(p);
  const bool extra = p.n_extra > 0;
  Buffers b(t);
  QKBackwardArgs a;
  a.d_attn = b.req(info[2], "dAttn", s.attn);
  a.q = b.req(info[3], "q", s.unfused_q);
  a.k = b.req(info[4], "k", s.unfused_q);
  a.extra_k = b.opt(info[5], "additionalKeys", s.unfused_ek, extra);
  a.dq = b.req(info[6], "dq", s.unfused_q);
  a.dk = b.req(info[7], "dk", s.unfused_q);
  a.d_rpb = b.opt(info[8], "dRpb", s.rpb, p.has_rpb);
  a.d_extra_k = b.opt(info[9], "dAdditionalKeys", s.unfused_ek, extra);
  b.dispatch([p, t, a] { cpu::na_qk_backward(p, t, a); }, [&](int dev) { launch::na_qk_backward(dev, p, t, a); });
  return info.Env().Undefined();
}

// naAVBackward(problem, dtype, dOut, attn, v, extraV, dAttn, dv, dExtraV)
Napi::Value NaAVBackward(const Napi::CallbackInfo& info) {
  const NaProblem p = problem_arg(info[0]);
  require_same_heads(p);
  const DType t = dtype_arg(info[1], "dtype");
  const ProblemSizes s = problem_sizes(p);
  const bool extra = p.n_extra > 0;
  Buffers b(t);
  AVBackwardArgs a;
  a.d_out = b.req(info[2], "dOut", s.unfused_v);
  a.attn = b.req(info[3], "attn", s.attn);
  a.v = b.req(info[4], "v", s.unfused_v);
  a.extra_v = b.opt(info[5], "additionalValues", s.unfused_ev, extra);
  a.d_attn = b.req(info[6], "dAttn", s.attn);
  a.dv = b.req(info[7], "dv", s.unfused_v);
  a.d_extra_v = b.opt(info[8], "dAdditionalValues", s.unfused_ev, extra);
  b.dispatch([p, t, a] { cpu::na_av_backward(p, t, a); }, [&](int dev) { launch::na_av_backward(dev, p, t, a); });
  return info.Env().Undefined();
}

int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_SHAPE", "sizes overflow");
  return r;
}

// softmax(dtype, rows, cols, x, y)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  const DType t = dtype_arg(info[0], "dtype");
  SoftmaxArgs a;
  a.rows = count_arg(info[1], "rows");
  a.cols = count_arg(info[2], "cols");
  const int64_t n = checked_mul(a.rows, a.cols);
  Buffers b(t);
  a.x = b.req(info[3], "x", n);
  a.y = b.req(info[4], "y", n);
  b.dispatch([t, a] { cpu::softmax(t, a); }, [&](int dev) { launch::softmax(dev, t, a); });
  return info.Env().Undefined();
}

// softmaxBackward(dtype, rows, cols, dy, y, dx)
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  const DType t = dtype_arg(info[0], "dtype");
  SoftmaxBackwardArgs a;
  a.rows = count_arg(info[1], "rows");
  a.cols = count_arg(info[2], "cols");
  const int64_t n = checked_mul(a.rows, a.cols);
  Buffers b(t);
  a.dy = b.req(info[3], "dy", n);
  a.y = b.req(info[4], "y", n);
  a.dx = b.req(info[5], "dx", n);
  b.dispatch([t, a] { cpu::softmax_backward(t, a); }, [&](int dev) { launch::softmax_backward(dev, t, a); });
  return info.Env().Undefined();
}

// mergeAttentions(dtype, rows, dv, outs[], lses[], out, lse)
Napi::Value MergeAttentions(const Napi::CallbackInfo& info) {
  const DType t = dtype_arg(info[0], "dtype");
  const int64_t rows = count_arg(info[1], "rows"), dv = count_arg(info[2], "dv");
  const int64_t n = checked_mul(rows, dv);
  if (!info[3].IsArray() || !info[4].IsArray())
    throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", "outputs and lses must be arrays of tensor handles");
  Napi::Array outs = info[3].As<Napi::Array>(), lses = info[4].As<Napi::Array>();
  if (outs.Length() != lses.Length() || outs.Length() < 1)
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE",
                "outputs and lses must be non-empty and of equal length");
  Buffers b(t);
  auto in_ptrs = std::make_shared<std::vector<const void*>>();
  auto lse_ptrs = std::make_shared<std::vector<const float*>>();
  for (uint32_t i = 0; i < outs.Length(); ++i) {
    in_ptrs->push_back(b.req(outs.Get(i), "outputs[i]", n));
    lse_ptrs->push_back(static_cast<const float*>(b.req(lses.Get(i), "lses[i]", rows, true)));
  }
  void* out = b.req(info[5], "output", n);
  float* lse = static_cast<float*>(b.req(info[6], "lse", rows, true));
  b.dispatch(
      [=] { cpu::merge_attentions(t, (int)in_ptrs->size(), in_ptrs->data(), lse_ptrs->data(), rows, dv, out, lse); },
      [&](int dev) {
        launch::merge_attentions(dev, t, (int)in_ptrs->size(), in_ptrs->data(), lse_ptrs->data(), rows, dv, out, lse);
      });
  return info.Env().Undefined();
}

// fusedToUnfused(dtype, B, N, H, Hsrc, C, src, dst)
Napi::Value FusedToUnfused(const Napi::CallbackInfo& info) {
  const DType t = dtype_arg(info[0], "dtype");
  const int64_t B = count_arg(info[1], "B"), N = count_arg(info[2], "N"), H = count_arg(info[3], "H"),
                Hs = count_arg(info[4], "Hsrc"), C = count_arg(info[5], "C");
  if (Hs < 1 || H % Hs != 0) throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE", "Hsrc must divide H");
  Buffers b(t);
  const void* src = b.req(info[6], "src", checked_mul(checked_mul(checked_mul(B, N), Hs), C));
  void* dst = b.req(info[7], "dst", checked_mul(checked_mul(checked_mul(B, N), H), C));
  b.dispatch([=] { cpu::fused_to_unfused(t, B, N, H, Hs, C, src, dst); },
             [&](int dev) { launch::fused_to_unfused(dev, t, B, N, H, Hs, C, src, dst); });
  return info.Env().Undefined();
}

// unfusedToFused(dtype, B, N, Hsrc, H, C, src, dst)
Napi::Value UnfusedToFused(const Napi::CallbackInfo& info) {
  const DType t = dtype_arg(info[0], "dtype");
  const int64_t B = count_arg(info[1], "B"), N = count_arg(info[2], "N"), Hs = count_arg(info[3], "Hsrc"),
                H = count_arg(info[4], "H"), C = count_arg(info[5], "C");
  if (H < 1 || Hs % H != 0) throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE", "H must divide Hsrc");
  Buffers b(t);
  const void* src = b.req(info[6], "src", checked_mul(checked_mul(checked_mul(B, N), Hs), C));
  void* dst = b.req(info[7], "dst", checked_mul(checked_mul(checked_mul(B, N), H), C));
  b.dispatch([=] { cpu::unfused_to_fused(t, B, N, Hs, H, C, src, dst); },
             [&](int dev) { launch::unfused_to_fused(dev, t, B, N, Hs, H, C, src, dst); });
  return info.Env().Undefined();
}

double number_arg(const Napi::Value& v, const char* name) {
  if (!v.IsNumber())
    throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", std::string(name) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// scale(dtype, numel, src, dst, factor)
Napi::Value Scale(const Napi::CallbackInfo& info) {
  const DType t = dtype_arg(info[0], "dtype");
  const int64_t n = count_arg(info[1], "numel");
  Buffers b(t);
  const void* src = b.req(info[2], "src", n);
  void* dst = b.req(info[3], "dst", n);
  const double f = number_arg(info[4], "factor");
  b.dispatch([=] { cpu::scale(t, n, src, dst, f); }, [&](int dev) { launch::scale(dev, t, n, src, dst, f); });
  return info.Env().Undefined();
}

// fill(handle, dtype, numel, value): every element set to value (tests poison outputs with NaN).
Napi::Value Fill(const Napi::CallbackInfo& info) {
  const DType t = dtype_arg(info[1], "dtype");
  const int64_t n = count_arg(info[2], "numel");
  const double value = number_arg(info[3], "value");
  Buffers b(t);
  void* dst = b.req(info[0], "tensor", n);
  b.dispatch([=] { cpu::fill(t, n, dst, value); },
             [&](int dev) {
               const size_t bytes = (size_t)n * dtype_size(t);
               if (value == 0.0 && !std::signbit(value)) {
                 gpu::memset_async(dev, dst, 0, bytes);
               } else if (std::isnan(value)) {
                 gpu::memset_async(dev, dst, 0xff, bytes);  // all-ones bits are a NaN in every dtype
               } else {
                 std::vector<char> host(bytes);
                 for (int64_t i = 0; i < n; ++i) store_element(host.data(), t, (size_t)i, value);
                 gpu::upload_async(dev, dst, host.data(), bytes);
               }
             });
  return info.Env().Undefined();
}

// hasFused(device): whether the fast fused CUDA kernels exist there (false for the CPU).
Napi::Value HasFused(const Napi::CallbackInfo& info) {
  const Device d = device_arg(info[0], "device");
  return Napi::Boolean::New(info.Env(), !d.is_cpu() && launch::has_fused(d.index));
}

// cpuFmaPeak(ms) -> Promise<number>: measured fp32 FMA GFLOP/s of the CPU engine's threads.
Napi::Value CpuFmaPeak(const Napi::CallbackInfo& info) {
  const int ms = (int)count_arg(info[0], "ms");
  auto [promise, reply] = addon_env(info.Env()).completion->expect(info.Env());
  after_device(Device{-1}, reply, [ms]() -> Reply::MakeValue {
    const double gflops = cpu::fma_peak_gflops(ms);
    return [gflops](Napi::Env env) { return Napi::Number::New(env, gflops); };
  });
  return promise;
}

}  // namespace

void register_na_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("naForward", Napi::Function::New<guarded<NaForward>>(env, "naForward"));
  exports.Set("naForwardNaive", Napi::Function::New<guarded<NaForwardNaive>>(env, "naForwardNaive"));
  exports.Set("naBackward", Napi::Function::New<guarded<NaBackward>>(env, "naBackward"));
  exports.Set("naQK", Napi::Function::New<guarded<NaQK>>(env, "naQK"));
  exports.Set("naAV", Napi::Function::New<guarded<NaAV>>(env, "naAV"));
  exports.Set("naQKBackward", Napi::Function::New<guarded<NaQKBackward>>(env, "naQKBackward"));
  exports.Set("naAVBackward", Napi::Function::New<guarded<NaAVBackward>>(env, "naAVBackward"));
  exports.Set("softmax", Napi::Function::New<guarded<Softmax>>(env, "softmax"));
  exports.Set("softmaxBackward", Napi::Function::New<guarded<SoftmaxBackward>>(env, "softmaxBackward"));
  exports.Set("mergeAttentions", Napi::Function::New<guarded<MergeAttentions>>(env, "mergeAttentions"));
  exports.Set("fusedToUnfused", Napi::Function::New<guarded<FusedToUnfused>>(env, "fusedToUnfused"));
  exports.Set("unfusedToFused", Napi::Function::New<guarded<UnfusedToFused>>(env, "unfusedToFused"));
  exports.Set("scale", Napi::Function::New<guarded<Scale>>(env, "scale"));
  exports.Set("fill", Napi::Function::New<guarded<Fill>>(env, "fill"));
  exports.Set("hasFused", Napi::Function::New<guarded<HasFused>>(env, "hasFused"));
  exports.Set("cpuFmaPeak", Napi::Function::New<guarded<CpuFmaPeak>>(env, "cpuFmaPeak"));
}

}  // namespace natten::node
