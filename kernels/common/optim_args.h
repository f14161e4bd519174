// Buffers and hyperparameters of the optimizer steps and of the gradient unscale (docs/design.md §6
// "Training"), shared by the CPU engine and the CUDA launch layer. A step updates a list of parameters of one
// dtype on one device in one call (a multi-tensor step); optim_update.h holds the per-element update.
#pragma once
#include <stdint.h>

namespace natten {

/// The update rule of a step: PyTorch's torch.optim.SGD or torch.optim.AdamW.
enum class OptimKind : int { Sgd = 0, AdamW = 1 };

/// One parameter of a multi-tensor step. `param` holds n elements of the step's dtype; `grad` and every
/// state buffer hold n elements of the state dtype (float64 for float64 parameters, fp32 otherwise).
struct OptimTensor {
  int64_t n = 0;
  void* param = nullptr;
  const void* grad = nullptr;
  /// fp32 master weights of a half-precision parameter (updated, then rounded into param); null otherwise.
  void* master = nullptr;
  /// SGD: the momentum buffer (null without momentum). AdamW: exp_avg.
  void* state0 = nullptr;
  /// AdamW: exp_avg_sq.
  void* state1 = nullptr;
  /// AdamW with amsgrad: max_exp_avg_sq (the running maximum of exp_avg_sq, before bias correction).
  void* state2 = nullptr;
  /// SGD: the momentum buffer is new this step (it is set to the gradient, without dampening).
  bool first = false;
  /// AdamW: lr / (1 - beta1^step), this parameter's step count.
  double step_size = 0;
  /// AdamW: sqrt(1 - beta2^step).
  double bias_correction2_sqrt = 1;
};

/// The hyperparameters of a step (PyTorch's names in camelCase; lib/optim validates them).
struct OptimHyper {
  OptimKind kind = OptimKind::Sgd;
  double lr = 0, weight_decay = 0;
  bool maximize = false;
  // SGD
  double momentum = 0, dampening = 0;
  bool nesterov = false;
  // AdamW
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool amsgrad = false;
};

/// A multi-tensor step: `count` parameters of one dtype on one device.
struct OptimStepArgs {
  int64_t count = 0;
  const OptimTensor* tensors = nullptr;
  OptimHyper hyper;
};

/// One gradient of an unscale: n elements of the unscale's dtype (fp32 or float64).
struct GradSpan {
  int64_t n = 0;
  void* data = nullptr;
};

/// GradScaler's unscale: every gradient multiplied by inv_scale in place; *found_inf (fp32) set to 1 when any
/// gradient element was inf or NaN before the multiply (it is left alone otherwise).
struct UnscaleArgs {
  int64_t count = 0;
  const GradSpan* grads = nullptr;
  double inv_scale = 1;
  float* found_inf = nullptr;
};

}  // namespace natten
