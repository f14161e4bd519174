// Bindings of the optimizer steps and of GradScaler's unscale (docs/design.md §6 "Training"; typed in
// lib/native.ts). Each reads one options object whose `tensors` (or `grads`) list names the storages of every
// parameter of one dtype on one device, checks that each holds what the step touches, and enqueues one
// multi-tensor step on the CPU queue or the device's stream.
#include <memory>
#include <string>
#include <vector>

#include "../engine/cpu/engine.h"
#include "../kernels/dispatch/optim_ops.h"
#include "op_call.h"

namespace natten::node {
namespace {

bool is_half(DType t) { return t == DType::Float16 || t == DType::BFloat16; }

/// options.<hyperparameters> (their ranges are lib/optim's to check).
OptimHyper hyper_arg(const Options& o) {
  OptimHyper h;
  h.kind = static_cast<OptimKind>(o.integer("kind", 0, 1));
  h.lr = o.number("lr");
  h.weight_decay = o.number("weightDecay");
  h.maximize = o.flag("maximize", false);
  if (h.kind == OptimKind::Sgd) {
    h.momentum = o.number("momentum");
    h.dampening = o.number("dampening");
    h.nesterov = o.flag("nesterov", false);
  } else {
    h.beta1 = o.number("beta1");
    h.beta2 = o.number("beta2");
    h.eps = o.number("eps");
    h.amsgrad = o.flag("amsgrad", false);
  }
  return h;
}

/// options.tensors[i]: one parameter's storages, each checked to hold what the step touches (state and
/// gradients in the state dtype: float64 for float64 parameters, else fp32).
OptimTensor tensor_arg(OpCall& c, const Options& x, const OptimHyper& h) {
  OptimTensor a;
  a.n = x.count("numel");
  const bool f32 = c.t != DType::Float64;
  auto storage = [&](const char* key, bool wanted, bool state_dtype) -> void* {
    if (!wanted) return nullptr;
    return c.req_value(
        x.get(key), [&x, key] { return x.name(key); }, a.n, state_dtype && f32);
  };
  a.param = storage("param", true, false);
  a.grad = storage("grad", true, true);
  a.master = storage("master", is_half(c.t), true);
  const bool adamw = h.kind == OptimKind::AdamW;
  a.state0 = storage("state0", adamw || h.momentum != 0, true);
  a.state1 = storage("state1", adamw, true);
  a.state2 = storage("state2", adamw && h.amsgrad, true);
  a.first = x.flag("first", false);
  if (adamw) {
    a.step_size = x.number("stepSize");
    a.bias_correction2_sqrt = x.number("biasCorrection2Sqrt");
  }
  return a;
}

// optimStep({dtype, kind, lr, weightDecay, maximize, momentum, dampening, nesterov, beta1, beta2, eps, amsgrad,
//            tensors: [{numel, param, grad, master?, state0?, state1?, state2?, first, stepSize,
//                       biasCorrection2Sqrt}]})
Napi::Value OptimStep(const Napi::CallbackInfo& info) {
  OpCall c(info);
  const OptimHyper h = hyper_arg(c.options);
  const Napi::Array list = c.options.array("tensors");
  auto tensors = std::make_shared<std::vector<OptimTensor>>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const std::string key = "tensors[" + std::to_string(i) + "]";
    tensors->push_back(tensor_arg(c, Options(list.Get(i), &c.options, key.c_str()), h));
  }
  if (tensors->empty()) return info.Env().Undefined();
  const DType t = c.t;
  auto args = [tensors, h] { return OptimStepArgs{(int64_t)tensors->size(), tensors->data(), h}; };
  c.dispatch([t, args] { cpu::optim_step(t, args()); }, [&](int dev) { launch::optim_step(dev, t, args()); });
  return info.Env().Undefined();
}
NATTEN_BINDING("optimStep", OptimStep);

// unscaleGrads({dtype, grads: handle[], numels: number[], invScale, foundInf}): grads of dtype (float32 or
// float64) multiplied by invScale in place; foundInf (one fp32 element) set to 1 when any was inf or NaN.
Napi::Value UnscaleGrads(const Napi::CallbackInfo& info) {
  OpCall c(info);
  if (c.t != DType::Float32 && c.t != DType::Float64)  // the kernels read fp32 or float64 elements
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_DTYPE", "options.dtype must be float32 or float64 (gradients)");
  const Napi::Array grads = c.options.array("grads"), numels = c.options.array("numels");
  if (grads.Length() != numels.Length())
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE", "options.grads and options.numels differ in length");
  auto spans = std::make_shared<std::vector<GradSpan>>();
  for (uint32_t i = 0; i < grads.Length(); ++i) {
    const Napi::Value n = numels.Get(i);
    const double d = n.IsNumber() ? n.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= (double)Options::kMaxCount) || d != (double)(int64_t)d)
      throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE",
                  "options.numels[" + std::to_string(i) + "] must be an integer in [0, 2^53]");
    GradSpan s;
    s.n = (int64_t)d;
    s.data = c.req_value(
        grads.Get(i), [i] { return "options.grads[" + std::to_string(i) + "]"; }, s.n);
    spans->push_back(s);
  }
  float* found = static_cast<float*>(c.req("foundInf", 1, true));
  const double inv = c.options.number("invScale");
  const DType t = c.t;
  auto args = [spans, inv, found] { return UnscaleArgs{(int64_t)spans->size(), spans->data(), inv, found}; };
  c.dispatch([t, args] { cpu::unscale_grads(t, args()); }, [&](int dev) { launch::unscale_grads(dev, t, args()); });
  return info.Env().Undefined();
}
NATTEN_BINDING("unscaleGrads", UnscaleGrads);

}  // namespace
}  // namespace natten::node
