// Buffers of the tensor ops (docs/design.md §6 "Tensor ops"), shared by the CPU engine and the CUDA launch
// layer. Element type of every buffer is the op's DType. Sizes are validated by lib/ and re-checked by native/.
#pragma once
#include <stdint.h>

namespace natten {

/// C[b] = op(A[b]) · op(B[b]) (+ bias), row-major: A [m, k] (or [k, m] when a_trans: the transposed
/// operand of a weight gradient), B [k, n] (or [n, k] when b_trans: a weight [out, in] as PyTorch stores
/// it), bias [n] or null, C [m, n]. Batch strides are in elements; a stride of 0 shares one matrix across
/// the batch.
struct GemmArgs {
  int64_t batch = 1, m = 0, n = 0, k = 0;
  const void* a = nullptr;
  int64_t a_stride = 0;
  bool a_trans = false;
  const void* b = nullptr;
  int64_t b_stride = 0;
  bool b_trans = false;
  const void* bias = nullptr;
  /// Elements between the bias vectors of consecutive batch entries (0: one bias for every entry).
  int64_t bias_stride = 0;
  void* c = nullptr;
  /// GPU fp32 GEMM may use TF32 tensor cores (setFloat32MatmulPrecision('high')); the CPU ignores it.
  bool allow_tf32 = false;
};

/// out[i] = a[i] + b[i mod b_numel] over n elements (b_numel divides n: b broadcast over leading dims).
struct AddArgs {
  int64_t n = 0, b_numel = 0;
  const void* a = nullptr;
  const void* b = nullptr;
  void* out = nullptr;
};

/// Layer normalisation over rows of `cols` elements: out = (x - mean) / sqrt(var + eps) * weight + bias
/// (biased variance); weight and bias [cols] or null (1 and 0).
struct LayerNormArgs {
  int64_t rows = 0, cols = 0;
  const void* x = nullptr;
  const void* weight = nullptr;
  const void* bias = nullptr;
  void* out = nullptr;
  double eps = 1e-5;
};

/// out = gelu(x) element-wise: x·Φ(x) exactly (erf), or the tanh approximation.
struct GeluArgs {
  int64_t n = 0;
  const void* x = nullptr;
  void* out = nullptr;
  bool tanh = false;
};

/// out[c] = sum over r of x[r, c] for x [rows, cols] (the gradient of a bias broadcast over rows).
/// Accumulates in fp32 (float64 in float64), in an order that does not depend on the thread count.
struct SumRowsArgs {
  int64_t rows = 0, cols = 0;
  const void* x = nullptr;
  void* out = nullptr;
};

/// dx = dy * gelu'(x) element-wise (the derivative of the exact or the tanh form).
struct GeluBackwardArgs {
  int64_t n = 0;
  const void* x = nullptr;
  const void* dy = nullptr;
  void* dx = nullptr;
  bool tanh = false;
};

/// Backward of LayerNormArgs from the input x and dy (the statistics are recomputed from x): dx [rows,
/// cols]; dweight and dbias [cols] (each null when not wanted) are the sums over rows of dy * x̂ and dy.
struct LayerNormBackwardArgs {
  int64_t rows = 0, cols = 0;
  const void* x = nullptr;
  const void* weight = nullptr;
  const void* dy = nullptr;
  void* dx = nullptr;
  void* dweight = nullptr;
  void* dbias = nullptr;
  double eps = 1e-5;
};

/// out[0] = mean over n elements of (pred - target)^2 (NaN when n is 0, as PyTorch's mean of nothing).
struct MseLossArgs {
  int64_t n = 0;
  const void* pred = nullptr;
  const void* target = nullptr;
  void* out = nullptr;
};

/// dpred = 2 (pred - target) dy[0] / n and dtarget = -dpred (dtarget null: not written).
struct MseLossBackwardArgs {
  int64_t n = 0;
  const void* pred = nullptr;
  const void* target = nullptr;
  const void* dy = nullptr;
  void* dpred = nullptr;
  void* dtarget = nullptr;
};

/// The most axes a strided copy takes (after merging axes that are contiguous in both tensors).
constexpr int kMaxCopyRank = 8;

/// dst[dst_offset + Σ i_a·dst_strides[a]] = src[src_offset + Σ i_a·src_strides[a]] for every index i of
/// `shape` (rank axes; offsets and strides in elements, non-negative). Permutes, slices and concatenation.
struct StridedCopyArgs {
  int rank = 0;
  int64_t shape[kMaxCopyRank] = {};
  int64_t src_strides[kMaxCopyRank] = {};
  int64_t dst_strides[kMaxCopyRank] = {};
  int64_t src_offset = 0, dst_offset = 0;
  const void* src = nullptr;
  void* dst = nullptr;
};

}  // namespace natten
