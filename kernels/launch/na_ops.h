// Host API of the CUDA NA kernels: the only entry native/ uses to run NA on a GPU. Each call validates
// what the kernels need (arch, dtype, head dim), picks a kernel and enqueues it on the device's stream.
// Throws natten::Error (ERR_NATTEN_UNSUPPORTED for combinations without a kernel).
#pragma once
#include "../common/dtype.h"
#include "../common/op_args.h"
#include "error.h"

namespace natten::launch {

void na_forward(int device, const NaProblem& p, DType t, const FusedForwardArgs& a, const FusedConfig& c);
void na_backward(int device, const NaProblem& p, DType t, const FusedBackwardArgs& a, const FusedConfig& c);
void na_qk(int device, const NaProblem& p, DType t, const QKArgs& a);
void na_av(int device, const NaProblem& p, DType t, const AVArgs& a);
void na_qk_backward(int device, const NaProblem& p, DType t, const QKBackwardArgs& a);
void na_av_backward(int device, const NaProblem& p, DType t, const AVBackwardArgs& a);
void softmax(int device, DType t, const SoftmaxArgs& a);
void softmax_backward(int device, DType t, const SoftmaxBackwardArgs& a);

/// True when the fast fused (tensor-core) kernels exist for this device.
bool has_fused(int device);

}  // namespace natten::launch
