// Op inputs seen in the engine's compute type (Real: float, or double for float64 tensors): a buffer of
// that type is used in place, any other is converted once (in parallel) into an owned copy, so inner
// loops read plain Reals. dot and axpy over such rows (fp32 with 16-lane vectors, fp64 plainly).
#pragma once
#include <stdint.h>

#include <memory>
#include <type_traits>

#include "../../kernels/common/dtype.h"
#include "convert.h"
#include "vec.h"

namespace natten::cpu::NATTEN_SIMD {

/// The storage dtype of a compute type.
template <class Real>
constexpr DType dtype_of() {
  static_assert(std::is_same_v<Real, float> || std::is_same_v<Real, double>, "float or double");
  return std::is_same_v<Real, double> ? DType::Float64 : DType::Float32;
}

/// Calls fn(Real{}) with the compute type of dtype t: double for float64 (real float64 arithmetic), float
/// for the others (float32 and the half types compute in fp32).
template <class Fn>
void with_compute_type(DType t, Fn&& fn) {
  if (t == DType::Float64) fn(double{});
  else fn(float{});
}

template <class Real>
class RealView {
 public:
  RealView() = default;
  RealView(const void* p, DType t, int64_t n) {
    if (!p) return;
    if (t == dtype_of<Real>()) {
      ptr_ = static_cast<const Real*>(p);
      return;
    }
    own_.reset(new Real[(size_t)(n > 0 ? n : 1)]);
    convert_parallel(p, t, own_.get(), dtype_of<Real>(), (size_t)n);
    ptr_ = own_.get();
  }
  const Real* get() const { return ptr_; }
  const Real* operator+(int64_t i) const { return ptr_ + i; }

 private:
  const Real* ptr_ = nullptr;
  std::unique_ptr<Real[]> own_;
};

using F32View = RealView<float>;

/// Sum of a[i] * b[i] over n floats (16-lane partial sums, then a horizontal add).
inline float dot(const float* a, const float* b, int64_t n) {
  vf acc0 = vzero(), acc1 = vzero();
  int64_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    acc0 += vloadu(a + i) * vloadu(b + i);
    acc1 += vloadu(a + i + kLanes) * vloadu(b + i + kLanes);
  }
  for (; i + kLanes <= n; i += kLanes) acc0 += vloadu(a + i) * vloadu(b + i);
  float s = vreduce_add(acc0 + acc1);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

/// Sum of a[i] * b[i] over n doubles, in order.
inline double dot(const double* a, const double* b, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

/// y[i] += w * x[i] over n Reals.
template <class Real>
inline void axpy(Real w, const Real* x, Real* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += w * x[i];
}

}  // namespace natten::cpu::NATTEN_SIMD
