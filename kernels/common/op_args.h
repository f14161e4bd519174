// Buffers of each NA op, shared by the CPU engine (native/cpu) and the CUDA launch layer (kernels/launch).
// Element type of every tensor buffer is the op's DType, except LSE which is always fp32.
// Pointers for absent optional inputs (extra K/V when n_extra == 0, rpb when !has_rpb) are null.
#pragma once
#include <stdint.h>
#include "problem.h"

namespace natten {

/// Fused forward: O = softmax(scale * Q K^T over window + extra keys) V; LSE [B, ...spatial, H] fp32.
struct FusedForwardArgs {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  const void* extra_k = nullptr;
  const void* extra_v = nullptr;
  void* out = nullptr;
  float* lse = nullptr;
};

/// Fused backward: gradients for Q, K, V (and extra K/V); dK/dV are summed over query heads sharing a
/// KV head (GQA).
struct FusedBackwardArgs {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  const void* extra_k = nullptr;
  const void* extra_v = nullptr;
  const void* out = nullptr;
  const float* lse = nullptr;
  const void* d_out = nullptr;
  void* dq = nullptr;
  void* dk = nullptr;
  void* dv = nullptr;
  void* d_extra_k = nullptr;
  void* d_extra_v = nullptr;
};

/// Unfused QK: attn[b, h, ...i, w] = Q_i . K_(window position w) (+ rpb), then extra-key columns.
/// Masked window positions (causal) are -inf. No scaling.
struct QKArgs {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* rpb = nullptr;
  const void* extra_k = nullptr;
  void* attn = nullptr;
};

/// Unfused AV: out[b, h, ...i] = sum_w attn[.., w] V_(window position w) + extra-value columns.
struct AVArgs {
  const void* attn = nullptr;
  const void* v = nullptr;
  const void* extra_v = nullptr;
  void* out = nullptr;
};

struct QKBackwardArgs {
  const void* d_attn = nullptr;
  const void* q = nullptr;
  const void* k = nullptr;
  const void* extra_k = nullptr;
  void* dq = nullptr;
  void* dk = nullptr;
  void* d_rpb = nullptr;
  void* d_extra_k = nullptr;
};

struct AVBackwardArgs {
  const void* d_out = nullptr;
  const void* attn = nullptr;
  const void* v = nullptr;
  const void* extra_v = nullptr;
  void* d_attn = nullptr;
  void* dv = nullptr;
  void* d_extra_v = nullptr;
};

/// Row softmax over the last axis (rows x cols); -inf entries give 0; fp32 math.
struct SoftmaxArgs {
  const void* x = nullptr;
  void* y = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

struct SoftmaxBackwardArgs {
  const void* dy = nullptr;
  const void* y = nullptr;
  void* dx = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

/// Fused-kernel choices passed down from the API (tile shapes, backward mode). Zeros mean "default".
struct FusedConfig {
  int q_tile[kMaxDims] = {0, 0, 0};
  int kv_tile[kMaxDims] = {0, 0, 0};
  int backward_q_tile[kMaxDims] = {0, 0, 0};
  int backward_kv_tile[kMaxDims] = {0, 0, 0};
  int kv_splits = 0;
  int forward_arch = 0;              // forward kernel family: 0 any, 80 mma.sync (sm_80+), 90 wgmma, 91 wgmma-ws (sm_90a)
  int backward_arch = 0;             // backward kernel family: 0 the default (mma.sync), 80 mma.sync, 90 wgmma (sm_90a)
  bool kv_parallel = true;           // dQ by fp32 atomics across KV tiles
  bool deterministic = false;        // dQ by a separate Q-parallel pass: bitwise reproducible
  bool use_reference = false;        // force the simple reference kernels (testing / unsupported GPUs)
  int64_t scratch_limit_bytes = -1;  // memory-usage preference cap on extra scratch (-1: unlimited)
};

}  // namespace natten
