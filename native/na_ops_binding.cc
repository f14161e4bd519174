// Node-API bindings of the NA ops (docs/design.md §4, §6; typed in lib/native.ts). Each reads one options
// object (storage handles by name; outputs are allocated by lib/ops with native.empty) through OpCall,
// which re-checks every buffer size natively, and dispatches on the tensors' device: the CPU enqueues a
// task on the CPU queue (capturing the storages so they outlive the call), a CUDA device calls
// kernels/dispatch/na_ops.h, which enqueues on the device's stream. Both return at once.
#include <napi.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../engine/cpu/engine.h"
#include "../kernels/dispatch/na_ops.h"
#include "../kernels/runtime/gpu_runtime.h"
#include "addon_env.h"
#include "after_device.h"
#include "fused_args.h"
#include "js_interop.h"
#include "op_call.h"

namespace natten::node {
namespace {

/// naForwardNaive's CUDA side: there is none (the naive loop is the CPU benchmark's baseline).
void no_cuda_forward_naive(int, const NaProblem&, DType, const FusedForwardArgs&) {
  throw Error(ErrorKind::Natten, "ERR_NATTEN_UNSUPPORTED", "naForwardNaive has no CUDA implementation");
}

// naForward({dtype, problem, q, k, v, additionalKeys, additionalValues, output, lse, config})
Napi::Value NaForward(const Napi::CallbackInfo& info) {
  NaCall c(info);
  return c.run(cpu::fna_forward, launch::na_forward, forward_args(c), c.config());
}
NATTEN_BINDING("naForward", NaForward);

// naForwardNaive(the options of naForward but config): the benchmark's single-thread loop (CPU only).
Napi::Value NaForwardNaive(const Napi::CallbackInfo& info) {
  NaCall c(info);
  return c.run(cpu::fna_forward_naive, no_cuda_forward_naive, forward_args(c));
}
NATTEN_BINDING("naForwardNaive", NaForwardNaive);

// naBackward({dtype, problem, q, k, v, additionalKeys, additionalValues, output, lse, dOut, dq, dk, dv,
//             dAdditionalKeys, dAdditionalValues, config})
Napi::Value NaBackward(const Napi::CallbackInfo& info) {
  NaCall c(info);
  return c.run(cpu::fna_backward, launch::na_backward, backward_args(c), c.config());
}
NATTEN_BINDING("naBackward", NaBackward);

/// The unfused QK's inputs (its forward and backward args share their names): unfused layout, problem.headsKv
/// unused.
template <class Args>
Args qk_inputs(NaCall& c) {
  Args a;
  a.q = c.req("q", c.s.unfused_q);
  a.k = c.req("k", c.s.unfused_q);
  a.extra_k = c.opt("additionalKeys", c.s.unfused_ek, c.p.n_extra > 0);
  return a;
}

/// The unfused AV's inputs (its forward and backward args share their names).
template <class Args>
Args av_inputs(NaCall& c) {
  Args a;
  a.attn = c.req("attn", c.s.attn);
  a.v = c.req("v", c.s.unfused_v);
  a.extra_v = c.opt("additionalValues", c.s.unfused_ev, c.p.n_extra > 0);
  return a;
}

/// The unfused QK backward's gradients, each shaped like its input.
void qk_gradients(NaCall& c, QKBackwardArgs& a) {
  a.dq = c.req("dq", c.s.unfused_q);
  a.dk = c.req("dk", c.s.unfused_q);
  a.d_rpb = c.opt("dRpb", c.s.rpb, c.p.has_rpb);
  a.d_extra_k = c.opt("dAdditionalKeys", c.s.unfused_ek, c.p.n_extra > 0);
}

/// The unfused AV backward's gradients, each shaped like its input.
void av_gradients(NaCall& c, AVBackwardArgs& a) {
  a.d_attn = c.req("dAttn", c.s.attn);
  a.dv = c.req("dv", c.s.unfused_v);
  a.d_extra_v = c.opt("dAdditionalValues", c.s.unfused_ev, c.p.n_extra > 0);
}

// naQK({dtype, problem, q, k, rpb, additionalKeys, attn})
Napi::Value NaQK(const Napi::CallbackInfo& info) {
  NaCall c(info);
  QKArgs a = qk_inputs<QKArgs>(c);
  a.rpb = c.opt("rpb", c.s.rpb, c.p.has_rpb);
  a.attn = c.req("attn", c.s.attn);
  return c.run(cpu::na_qk, launch::na_qk, a);
}
NATTEN_BINDING("naQK", NaQK);

// naAV({dtype, problem, attn, v, additionalValues, output})
Napi::Value NaAV(const Napi::CallbackInfo& info) {
  NaCall c(info);
  AVArgs a = av_inputs<AVArgs>(c);
  a.out = c.req("output", c.s.unfused_v);
  return c.run(cpu::na_av, launch::na_av, a);
}
NATTEN_BINDING("naAV", NaAV);

// naQKBackward({dtype, problem, dAttn, q, k, additionalKeys, dq, dk, dRpb, dAdditionalKeys})
Napi::Value NaQKBackward(const Napi::CallbackInfo& info) {
  NaCall c(info);
  QKBackwardArgs a = qk_inputs<QKBackwardArgs>(c);
  a.d_attn = c.req("dAttn", c.s.attn);
  qk_gradients(c, a);
  return c.run(cpu::na_qk_backward, launch::na_qk_backward, a);
}
NATTEN_BINDING("naQKBackward", NaQKBackward);

// naAVBackward({dtype, problem, dOut, attn, v, additionalValues, dAttn, dv, dAdditionalValues})
Napi::Value NaAVBackward(const Napi::CallbackInfo& info) {
  NaCall c(info);
  AVBackwardArgs a = av_inputs<AVBackwardArgs>(c);
  a.d_out = c.req("dOut", c.s.unfused_v);
  av_gradients(c, a);
  return c.run(cpu::na_av_backward, launch::na_av_backward, a);
}
NATTEN_BINDING("naAVBackward", NaAVBackward);

// softmax({dtype, rows, cols, x, y})
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  OpCall c(info);
  const int64_t rows = c.options.count("rows"), cols = c.options.count("cols"), n = checked_mul(rows, cols);
  const SoftmaxArgs a{c.req("x", n), c.req("y", n), rows, cols};
  c.dispatch([t = c.t, a] { cpu::softmax(t, a); }, [&](int dev) { launch::softmax(dev, c.t, a); });
  return info.Env().Undefined();
}
NATTEN_BINDING("softmax", Softmax);

// softmaxBackward({dtype, rows, cols, dy, y, dx})
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  OpCall c(info);
  const int64_t rows = c.options.count("rows"), cols = c.options.count("cols"), n = checked_mul(rows, cols);
  const SoftmaxBackwardArgs a{c.req("dy", n), c.req("y", n), c.req("dx", n), rows, cols};
  c.dispatch([t = c.t, a] { cpu::softmax_backward(t, a); }, [&](int dev) { launch::softmax_backward(dev, c.t, a); });
  return info.Env().Undefined();
}
NATTEN_BINDING("softmaxBackward", SoftmaxBackward);

// mergeAttentions({dtype, rows, headDimV, outputs, lses, output, lse})
Napi::Value MergeAttentions(const Napi::CallbackInfo& info) {
  OpCall c(info);
  const DType t = c.t;
  const int64_t rows = c.options.count("rows"), dv = c.options.count("headDimV");
  const int64_t n = checked_mul(rows, dv);
  const Napi::Array outs = c.options.array("outputs"), lses = c.options.array("lses");
  if (outs.Length() != lses.Length() || outs.Length() < 1)
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE",
                "options.outputs and options.lses must be non-empty and of equal length");
  auto in_ptrs = std::make_shared<std::vector<const void*>>();
  auto lse_ptrs = std::make_shared<std::vector<const float*>>();
  for (uint32_t i = 0; i < outs.Length(); ++i) {
    const ArgName out_name = [i] { return "options.outputs[" + std::to_string(i) + "]"; };
    const ArgName lse_name = [i] { return "options.lses[" + std::to_string(i) + "]"; };
    in_ptrs->push_back(c.req_value(outs.Get(i), out_name, n));
    lse_ptrs->push_back(static_cast<const float*>(c.req_value(lses.Get(i), lse_name, rows, true)));
  }
  void* out = c.req("output", n);
  float* lse = static_cast<float*>(c.req("lse", rows, true));
  c.dispatch(
      [=] { cpu::merge_attentions(t, (int)in_ptrs->size(), in_ptrs->data(), lse_ptrs->data(), rows, dv, out, lse); },
      [&](int dev) {
        launch::merge_attentions(dev, t, (int)in_ptrs->size(), in_ptrs->data(), lse_ptrs->data(), rows, dv, out, lse);
      });
  return info.Env().Undefined();
}
NATTEN_BINDING("mergeAttentions", MergeAttentions);

/// The options of the layout permutes: src holds `sourceHeads` heads, dst `heads` (lib/native.ts
/// LayoutOptions); each head count >= 1 (the kernels divide by both and stay inside either way).
struct Layout {
  int64_t batch, tokens, heads, source_heads, channels;
  const void* src;
  void* dst;
};

/// Reads a layout permute's options (src and dst hold batch * tokens * channels elements per head).
Layout layout_arg(OpCall& c) {
  Layout l;
  l.batch = c.options.count("batch");
  l.tokens = c.options.count("tokens");
  l.heads = c.options.integer("heads", 1, Options::kMaxCount);
  l.source_heads = c.options.integer("sourceHeads", 1, Options::kMaxCount);
  l.channels = c.options.count("channels");
  const int64_t bnc = checked_mul(checked_mul(l.batch, l.tokens), l.channels);
  l.src = c.req("src", checked_mul(bnc, l.source_heads));
  l.dst = c.req("dst", checked_mul(bnc, l.heads));
  return l;
}

/// A permute's CPU and CUDA entries: (dtype, batch, tokens, heads a, heads b, channels, src, dst), the two head
/// counts in the order of the permute's direction.
using CpuPermute = void (*)(DType, int64_t, int64_t, int64_t, int64_t, int64_t, const void*, void*);
using GpuPermute = void (*)(int, DType, int64_t, int64_t, int64_t, int64_t, int64_t, const void*, void*);

/// Runs a layout permute read from the call's options; `heads_first`: the entries take heads before
/// sourceHeads.
Napi::Value permute(const Napi::CallbackInfo& info, CpuPermute cpu_fn, GpuPermute gpu_fn, bool heads_first) {
  OpCall c(info);
  const DType t = c.t;
  const Layout l = layout_arg(c);
  const int64_t ha = heads_first ? l.heads : l.source_heads, hb = heads_first ? l.source_heads : l.heads;
  c.dispatch([=] { cpu_fn(t, l.batch, l.tokens, ha, hb, l.channels, l.src, l.dst); },
             [&](int dev) { gpu_fn(dev, t, l.batch, l.tokens, ha, hb, l.channels, l.src, l.dst); });
  return info.Env().Undefined();
}

// fusedToUnfused({dtype, batch, tokens, heads, sourceHeads, channels, src, dst}): [B, N, Hsrc, C] ->
// [B, H, N, C], head h reading source head h * Hsrc / H.
Napi::Value FusedToUnfused(const Napi::CallbackInfo& info) {
  return permute(info, cpu::fused_to_unfused, launch::fused_to_unfused, true);
}
NATTEN_BINDING("fusedToUnfused", FusedToUnfused);

// unfusedToFused({dtype, batch, tokens, heads, sourceHeads, channels, src, dst}): [B, Hsrc, N, C] ->
// [B, N, H, C], summing the source heads that map to each head.
Napi::Value UnfusedToFused(const Napi::CallbackInfo& info) {
  return permute(info, cpu::unfused_to_fused, launch::unfused_to_fused, false);
}
NATTEN_BINDING("unfusedToFused", UnfusedToFused);

// scale({dtype, numel, src, dst, factor})
Napi::Value Scale(const Napi::CallbackInfo& info) {
  OpCall c(info);
  const DType t = c.t;
  const int64_t n = c.options.count("numel");
  const void* src = c.req("src", n);
  void* dst = c.req("dst", n);
  const double f = c.options.number("factor");
  c.dispatch([=] { cpu::scale(t, n, src, dst, f); }, [&](int dev) { launch::scale(dev, t, n, src, dst, f); });
  return info.Env().Undefined();
}
NATTEN_BINDING("scale", Scale);

/// Fills n elements of dst on a GPU: a memset where the bit pattern allows, else an upload.
void fill_gpu(int dev, DType t, int64_t n, void* dst, double value) {
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
}

// fill({dtype, numel, dst, value}): every element set to value (tests poison outputs with NaN).
Napi::Value Fill(const Napi::CallbackInfo& info) {
  OpCall c(info);
  const DType t = c.t;
  const int64_t n = c.options.count("numel");
  const double value = c.options.number("value");
  void* dst = c.req("dst", n);
  c.dispatch([=] { cpu::fill(t, n, dst, value); }, [&](int dev) { fill_gpu(dev, t, n, dst, value); });
  return info.Env().Undefined();
}
NATTEN_BINDING("fill", Fill);

// hasFused({device}): whether the fast fused CUDA kernels exist there (false for the CPU).
Napi::Value HasFused(const Napi::CallbackInfo& info) {
  const Device d = Options(info).device();
  return Napi::Boolean::New(info.Env(), !d.is_cpu() && launch::has_fused(d.index));
}
NATTEN_BINDING("hasFused", HasFused);

// cpuFmaPeak({ms}) -> Promise<number>: measured fp32 FMA GFLOP/s of the CPU engine's threads.
Napi::Value CpuFmaPeak(const Napi::CallbackInfo& info) {
  const int ms = (int)Options(info).integer("ms", 0, 1 << 20);
  auto [promise, reply] = addon_env(info.Env()).completion->expect(info.Env());
  after_device(Device{-1}, reply, [ms]() -> Reply::MakeValue {
    const double gflops = cpu::fma_peak_gflops(ms);
    return [gflops](Napi::Env env) { return Napi::Number::New(env, gflops); };
  });
  return promise;
}
NATTEN_BINDING("cpuFmaPeak", CpuFmaPeak);

}  // namespace
}  // namespace natten::node
