// The per-element updates of the optimizers (docs/design.md §6 "Training"): PyTorch's torch.optim.SGD and
// torch.optim.AdamW, and the finite check of GradScaler's unscale. One definition for the CPU engine and the
// CUDA kernels; S is the compute type (fp32, or double for float64 parameters). Everything here has internal
// linkage: the CPU engine compiles it once per SIMD level (docs/design.md §2), and a shared weak copy could
// run one level's instructions on a CPU of another.
#pragma once
#include <math.h>

#include "hostdevice.h"
#include "optim_args.h"

namespace natten {
namespace {

/// A step's hyperparameters in the compute type, derived once per call (host side).
template <class S>
struct OptimCoeffs {
  S lr, weight_decay, momentum, one_minus_dampening;
  S beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
  /// AdamW's decoupled decay factor 1 - lr * weight_decay.
  S decay;
  bool maximize, nesterov;
};

template <class S>
inline OptimCoeffs<S> optim_coeffs(const OptimHyper& h) {
  OptimCoeffs<S> c;
  c.lr = (S)h.lr, c.weight_decay = (S)h.weight_decay, c.momentum = (S)h.momentum;
  c.one_minus_dampening = (S)(1 - h.dampening);
  c.beta1 = (S)h.beta1, c.one_minus_beta1 = (S)(1 - h.beta1);
  c.beta2 = (S)h.beta2, c.one_minus_beta2 = (S)(1 - h.beta2);
  c.eps = (S)h.eps;
  c.decay = (S)(1 - h.lr * h.weight_decay);
  c.maximize = h.maximize, c.nesterov = h.nesterov;
  return c;
}

NATTEN_HD float optim_sqrt(float x) { return sqrtf(x); }
NATTEN_HD double optim_sqrt(double x) { return sqrt(x); }

/// torch.maximum: NaN when either side is NaN.
template <class S>
NATTEN_HD S nan_max(S a, S b) {
  return (b != b || b > a) ? b : a;
}

/// SGD: the new value of parameter element p with gradient g. `buf` is its momentum buffer element (null
/// without momentum); `first`: the buffer is new and takes the (decayed) gradient as it is.
template <class S>
NATTEN_HD S sgd_update(const OptimCoeffs<S>& c, S p, S g, S* buf, bool first) {
  if (c.maximize) g = -g;
  if (c.weight_decay != (S)0) g += c.weight_decay * p;
  if (buf) {
    const S b = first ? g : c.momentum * *buf + c.one_minus_dampening * g;
    *buf = b;
    g = c.nesterov ? g + c.momentum * b : b;
  }
  return p - c.lr * g;
}

/// AdamW: the new value of parameter element p with gradient g; m, v the moment elements, vmax the running
/// maximum of v (amsgrad; null otherwise: PyTorch keeps the maximum of v before bias correction).
/// step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t) for this parameter's step t.
template <class S>
NATTEN_HD S adamw_update(const OptimCoeffs<S>& c, S p, S g, S* m, S* v, S* vmax, S step_size, S bc2_sqrt) {
  if (c.maximize) g = -g;
  p *= c.decay;
  const S mt = c.beta1 * *m + c.one_minus_beta1 * g;
  const S vt = c.beta2 * *v + c.one_minus_beta2 * g * g;
  *m = mt;
  *v = vt;
  S vd = vt;
  if (vmax) {
    vd = nan_max(*vmax, vt);
    *vmax = vd;
  }
  const S denom = optim_sqrt(vd) / bc2_sqrt + c.eps;
  return p - step_size * (mt / denom);
}

/// False for inf and NaN (x - x is NaN exactly then).
template <class S>
NATTEN_HD bool optim_finite(S x) {
  return x - x == (S)0;
}

}  // namespace
}  // namespace natten
