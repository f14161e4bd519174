// The CPU engine's entry points (docs/design.md §5-§6): fused neighborhood attention forward/backward, the
// unfused ops, softmax, merging of partial attentions and the layout helpers of the unfused chain.
// Each runs on the CPU queue's dispatcher thread and uses the whole thread pool (cpu::parallel_for).
// Buffers follow kernels/common/op_args.h; arguments are assumed validated (native/problem_arg.cc).
#pragma once
#include <stdint.h>

#include "../../kernels/common/dtype.h"
#include "../../kernels/common/op_args.h"
#include "../../kernels/common/optim_args.h"
#include "../../kernels/common/tensor_args.h"

namespace natten::cpu {

void fna_forward(const NaProblem& p, DType t, const FusedForwardArgs& a);
void fna_backward(const NaProblem& p, DType t, const FusedBackwardArgs& a);

/// The textbook loop (one query at a time, one thread): the benchmark's baseline.
void fna_forward_naive(const NaProblem& p, DType t, const FusedForwardArgs& a);

void na_qk(const NaProblem& p, DType t, const QKArgs& a);
void na_av(const NaProblem& p, DType t, const AVArgs& a);
void na_qk_backward(const NaProblem& p, DType t, const QKBackwardArgs& a);
void na_av_backward(const NaProblem& p, DType t, const AVBackwardArgs& a);

void softmax(DType t, const SoftmaxArgs& a);
void softmax_backward(DType t, const SoftmaxBackwardArgs& a);

/// Merges n partial attentions over disjoint key sets: out = sum_i exp(lse_i - lse) out_i,
/// lse = log(sum_i exp(lse_i)). outs[i]: [rows][dv] of type t, lses[i]: [rows] fp32.
void merge_attentions(DType t, int n, const void* const* outs, const float* const* lses, int64_t rows, int64_t dv,
                      void* out, float* lse);

/// dst[b, h, n, c] = src[b, n, h * Hsrc / H, c]: fused [B, N, Hsrc, C] to unfused [B, H, N, C], repeating
/// key/value heads for GQA (Hsrc divides H).
void fused_to_unfused(DType t, int64_t B, int64_t N, int64_t H, int64_t Hsrc, int64_t C, const void* src, void* dst);
/// dst[b, n, h, c] = sum over the heads g that map to h of src[b, g, n, c]: unfused [B, Hsrc, N, C] to
/// fused [B, N, H, C] (H divides Hsrc; the sum undoes fused_to_unfused's repetition for gradients).
void unfused_to_fused(DType t, int64_t B, int64_t N, int64_t Hsrc, int64_t H, int64_t C, const void* src, void* dst);

/// dst = src * factor, element-wise.
void scale(DType t, int64_t n, const void* src, void* dst, double factor);
/// Every element set to value (converted once to the dtype).
void fill(DType t, int64_t n, void* dst, double value);

/// Tensor ops (docs/design.md §6): GEMM (gemm.cc), add and GELU (tensor_elementwise.cc), layer norm
/// (layer_norm.cc), layout copies (strided_copy.cc).
void gemm(DType t, const GemmArgs& a);
void add(DType t, const AddArgs& a);
void gelu(DType t, const GeluArgs& a);
void layer_norm(DType t, const LayerNormArgs& a);
void strided_copy(DType t, const StridedCopyArgs& a);

/// Backward of the tensor ops and the MSE loss (docs/design.md §6 "Training"; tensor_backward.cc).
void sum_rows(DType t, const SumRowsArgs& a);
void gelu_backward(DType t, const GeluBackwardArgs& a);
void layer_norm_backward(DType t, const LayerNormBackwardArgs& a);
void mse_loss(DType t, const MseLossArgs& a);
void mse_loss_backward(DType t, const MseLossBackwardArgs& a);

/// Optimizer steps and GradScaler's unscale (optim.cc, docs/design.md §6 "Training"): t is the parameters'
/// dtype (optim_step) or the gradients' (unscale_grads: fp32 or float64).
void optim_step(DType t, const OptimStepArgs& a);
void unscale_grads(DType t, const UnscaleArgs& a);

/// Measured fp32 FMA throughput of all threads (GFLOP/s), over about `ms` milliseconds.
double fma_peak_gflops(int ms);

}  // namespace natten::cpu
