// na_ops.h's unfused entries (layout [B, H, ...spatial, D], attention [B, H, ...spatial, prod(k) + n_extra]):
//   QK:          attn = window_dot(Q, K) (+ rpb, -inf at causal-masked positions), extra columns Q . extraK
//   AV:          out = window_reduce(attn, V) (+ extra columns * extraV)
//   QK backward: dQ = window_reduce(dAttn, K, extraK), dK = window_reduce_inverse(dAttn, Q),
//                dRpb = rpb_grad(dAttn), dExtraK = extra_reduce(dAttn, Q)
//   AV backward: dAttn = window_dot(dOut, V) (0 at masked positions) + extra columns dOut . extraV,
//                dV = window_reduce_inverse(attn, dOut), dExtraV = extra_reduce(attn, dOut)
// Optional outputs that are null are skipped.
#include <math.h>

#include "../runtime/axes3.cuh"
#include "../runtime/device_caps.h"
#include "../runtime/gpu_runtime.h"
#include "../unfused/unfused.h"
#include "na_ops.h"
#include "reference_launch.h"

namespace natten::launch {
namespace {

struct Launch {
  cudaStream_t stream;
  unfused::DeviceLimits limits;
  NaProblem p;   // three-axis view
  int64_t cols;  // attention row width
};

Launch prepare(int device, const NaProblem& p, const char* op) {
  check_problem(p, op, false);
  Launch l;
  l.stream = device_stream(device);
  l.limits.smem_optin = fused::device_caps(device).smem_optin;
  l.p = cuda::as_3d(p);
  l.cols = l.p.window_size() + l.p.n_extra;
  return l;
}

}  // namespace

void na_qk(int device, const NaProblem& p, DType t, const QKArgs& a) {
  const Launch l = prepare(device, p, "na_qk");
  const int64_t d = l.p.head_dim;
  unfused::window_dot(l.stream, l.limits, l.p, t, d, a.q, a.k, l.p.has_rpb ? a.rpb : nullptr, -INFINITY, a.attn,
                      l.cols);
  if (l.p.n_extra > 0) unfused::extra_dot(l.stream, l.p, t, d, a.q, a.extra_k, a.attn, l.cols);
}

void na_av(int device, const NaProblem& p, DType t, const AVArgs& a) {
  const Launch l = prepare(device, p, "na_av");
  unfused::window_reduce(l.stream, l.limits, l.p, t, l.p.head_dim_v, a.attn, l.cols, a.v, a.extra_v, a.out);
}

void na_qk_backward(int device, const NaProblem& p, DType t, const QKBackwardArgs& a) {
  const Launch l = prepare(device, p, "na_qk_backward");
  const int64_t d = l.p.head_dim;
  if (a.dq) unfused::window_reduce(l.stream, l.limits, l.p, t, d, a.d_attn, l.cols, a.k, a.extra_k, a.dq);
  if (a.dk) unfused::window_reduce_inverse(l.stream, l.limits, l.p, t, d, a.d_attn, l.cols, a.q, a.dk);
  if (a.d_extra_k && l.p.n_extra > 0) unfused::extra_reduce(l.stream, l.p, t, d, a.d_attn, l.cols, a.q, a.d_extra_k);
  if (a.d_rpb) {
    const size_t bytes = (size_t)unfused::rpb_grad_scratch(l.p) * sizeof(float);
    gpu::DeviceScratch scratch(device, bytes);
    unfused::rpb_grad(l.stream, l.limits, l.p, t, a.d_attn, l.cols, scratch.data<float>(), a.d_rpb);
  }
}

void na_av_backward(int device, const NaProblem& p, DType t, const AVBackwardArgs& a) {
  const Launch l = prepare(device, p, "na_av_backward");
  const int64_t dv = l.p.head_dim_v;
  if (a.d_attn) {
    unfused::window_dot(l.stream, l.limits, l.p, t, dv, a.d_out, a.v, nullptr, 0.f, a.d_attn, l.cols);
    if (l.p.n_extra > 0) unfused::extra_dot(l.stream, l.p, t, dv, a.d_out, a.extra_v, a.d_attn, l.cols);
  }
  if (a.dv) unfused::window_reduce_inverse(l.stream, l.limits, l.p, t, dv, a.attn, l.cols, a.d_out, a.dv);
  if (a.d_extra_v && l.p.n_extra > 0) unfused::extra_reduce(l.stream, l.p, t, dv, a.attn, l.cols, a.d_out, a.d_extra_v);
}

void softmax(int device, DType t, const SoftmaxArgs& a) {
  if (a.rows < 0 || a.cols < 0)
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE", "softmax: rows and cols must be >= 0");
  unfused::softmax(device_stream(device), t, a.x, a.y, a.rows, a.cols);
}

void softmax_backward(int device, DType t, const SoftmaxBackwardArgs& a) {
  if (a.rows < 0 || a.cols < 0)
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE", "softmax_backward: rows and cols must be >= 0");
  unfused::softmax_backward(device_stream(device), t, a.dy, a.y, a.dx, a.rows, a.cols);
}

}  // namespace natten::launch
