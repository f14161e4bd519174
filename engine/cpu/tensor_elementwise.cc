// Element-wise tensor ops of the CPU engine (docs/design.md §6 "Tensor ops"): add with b broadcast over
// leading dims, and GELU. Half types compute in fp32 and round once on store; float64 computes in float64.
#include <math.h>

#include <algorithm>
#include <vector>

#include "../../kernels/common/tensor_args.h"
#include "elem_io.h"
#include "engine.h"
#include "parallel.h"

namespace natten::cpu::NATTEN_SIMD {
namespace {

constexpr int64_t kBlock = 1024;  // elements converted to fp32 at a time

/// Runs fn(begin, count, x_f32, out_f32) over [0, n) in blocks of kBlock, x loaded as fp32 and out stored
/// from fp32 (the non-float64 path of the element-wise ops).
template <class Fn>
void blocks_f32(DType t, int64_t n, const void* x, void* out, Fn fn) {
  parallel_for((n + kBlock - 1) / kBlock, 16, [&](int64_t begin, int64_t end) {
    float xs[kBlock], ys[kBlock];
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t i0 = blk * kBlock, cnt = std::min(kBlock, n - i0);
      load_row(x, t, (size_t)i0, cnt, xs);
      fn(i0, cnt, xs, ys);
      store_row(out, t, (size_t)i0, cnt, ys);
    }
  });
}

/// The same over float64 buffers in place of fp32 copies.
template <class Fn>
void blocks_f64(int64_t n, const void* x, void* out, Fn fn) {
  parallel_for((n + kBlock - 1) / kBlock, 16, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t i0 = blk * kBlock, cnt = std::min(kBlock, n - i0);
      fn(i0, cnt, static_cast<const double*>(x) + i0, static_cast<double*>(out) + i0);
    }
  });
}

constexpr double kSqrtHalf = 0.70710678118654752440;
constexpr double kSqrt2OverPi = 0.79788456080286535588;

template <class T>
T gelu_one(T x, bool approx) {
  if (approx) {
    const T inner = (T)kSqrt2OverPi * (x + (T)0.044715 * x * x * x);
    return (T)0.5 * x * ((T)1 + std::tanh(inner));
  }
  return (T)0.5 * x * ((T)1 + std::erf(x * (T)kSqrtHalf));
}

}  // namespace

void add(DType t, const AddArgs& a) {
  if (a.n == 0) return;
  const int64_t bn = a.b_numel;
  if (t == DType::Float64) {
    const double* b = static_cast<const double*>(a.b);
    blocks_f64(a.n, a.a, a.out, [&](int64_t i0, int64_t cnt, const double* x, double* y) {
      for (int64_t i = 0; i < cnt; ++i) y[i] = x[i] + b[(i0 + i) % bn];
    });
    return;
  }
  std::vector<float> b((size_t)bn);  // b is small next to a (a suffix of its shape): convert it once
  load_row(a.b, t, 0, bn, b.data());
  blocks_f32(t, a.n, a.a, a.out, [&](int64_t i0, int64_t cnt, const float* x, float* y) {
    int64_t j = i0 % bn;
    for (int64_t i = 0; i < cnt; ++i) {
      y[i] = x[i] + b[(size_t)j];
      if (++j == bn) j = 0;
    }
  });
}

void gelu(DType t, const GeluArgs& a) {
  if (t == DType::Float64) {
    blocks_f64(a.n, a.x, a.out, [&](int64_t, int64_t cnt, const double* x, double* y) {
      for (int64_t i = 0; i < cnt; ++i) y[i] = gelu_one(x[i], a.tanh);
    });
    return;
  }
  blocks_f32(t, a.n, a.x, a.out, [&](int64_t, int64_t cnt, const float* x, float* y) {
    for (int64_t i = 0; i < cnt; ++i) y[i] = gelu_one(x[i], a.tanh);
  });
}

}  // namespace natten::cpu::NATTEN_SIMD
