// Host API of the CUDA NA kernels: the only entry native/ uses to run NA on a GPU. Each call validates
// what the kernels need (arch, dtype, head dim), picks a kernel and enqueues it on the device's stream.
// Throws natten::Error (ERR_NATTEN_UNSUPPORTED for combinations without a kernel).
#pragma once
#include "../common/dtype.h"
#include "../common/op_args.h"
#include "../common/error.h"

namespace natten::launch {

void na_forward(int device, const NaProblem& p, DType t, const FusedForwardArgs& a, const FusedConfig& c);
void na_backward(int device, const NaProblem& p, DType t, const FusedBackwardArgs& a, const FusedConfig& c);
void na_qk(int device, const NaProblem& p, DType t, const QKArgs& a);
void na_av(int device, const NaProblem& p, DType t, const AVArgs& a);
void na_qk_backward(int device, const NaProblem& p, DType t, const QKBackwardArgs& a);
void na_av_backward(int device, const NaProblem& p, DType t, const AVBackwardArgs& a);
void softmax(int device, DType t, const SoftmaxArgs& a);
void softmax_backward(int device, DType t, const SoftmaxBackwardArgs& a);

/// Layout permutes and scaling of the unfused chain run from the fused layout (kernels/unfused/layout.h).
void fused_to_unfused(int device, DType t, int64_t B, int64_t N, int64_t H, int64_t Hsrc, int64_t C, const void* src,
                      void* dst);
void unfused_to_fused(int device, DType t, int64_t B, int64_t N, int64_t Hsrc, int64_t H, int64_t C, const void* src,
                      void* dst);
void scale(int device, DType t, int64_t n, const void* src, void* dst, double factor);
/// mergeAttentions: out/lse [rows, dv] / [rows] from n (output, LSE) pairs.
void merge_attentions(int device, DType t, int n, const void* const* outs, const float* const* lses, int64_t rows,
                      int64_t dv, void* out, float* lse);

/// True when the fast fused (tensor-core) kernels exist for this device.
bool has_fused(int device);

}  // namespace natten::launch
