// Layer normalisation over the last axis (docs/design.md §6 "Tensor ops"), PyTorch's definition: biased
// variance, eps inside the square root. Mean and variance are two passes over the row (no cancellation of
// E[x²] - E[x]²); half types compute in fp32, float64 in float64.
#include <math.h>

#include <vector>

#include "../../kernels/common/tensor_args.h"
#include "elem_io.h"
#include "engine.h"
#include "parallel.h"

namespace natten::cpu::NATTEN_SIMD {
namespace {

/// Normalises one row in place: x -> (x - mean) / sqrt(var + eps) * w + b (w, b null: 1, 0).
template <class T>
void normalize_row(T* x, int64_t n, const T* w, const T* b, double eps) {
  T mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= (T)n;
  T var = 0;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const T inv = (T)1 / std::sqrt(var / (T)n + (T)eps);
  for (int64_t i = 0; i < n; ++i) {
    T y = (x[i] - mean) * inv;
    if (w) y *= w[i];
    if (b) y += b[i];
    x[i] = y;
  }
}

}  // namespace

void layer_norm(DType t, const LayerNormArgs& a) {
  const int64_t C = a.cols;
  if (a.rows == 0 || C == 0) return;
  if (t == DType::Float64) {
    const double* w = static_cast<const double*>(a.weight);
    const double* b = static_cast<const double*>(a.bias);
    parallel_for(a.rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        double* y = static_cast<double*>(a.out) + r * C;
        const double* x = static_cast<const double*>(a.x) + r * C;
        std::copy(x, x + C, y);
        normalize_row(y, C, w, b, a.eps);
      }
    });
    return;
  }
  std::vector<float> w, b;  // the affine parameters in fp32, converted once
  if (a.weight) w.resize((size_t)C), load_row(a.weight, t, 0, C, w.data());
  if (a.bias) b.resize((size_t)C), load_row(a.bias, t, 0, C, b.data());
  parallel_for(a.rows, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> row((size_t)C);
    for (int64_t r = begin; r < end; ++r) {
      load_row(a.x, t, (size_t)(r * C), C, row.data());
      normalize_row(row.data(), C, a.weight ? w.data() : nullptr, a.bias ? b.data() : nullptr, a.eps);
      store_row(a.out, t, (size_t)(r * C), C, row.data());
    }
  });
}

}  // namespace natten::cpu::NATTEN_SIMD
