// fp32 access to op inputs of any dtype: float32 buffers are used in place, the others are converted
// once (in parallel) into an owned fp32 copy, so inner loops read plain floats.
#pragma once
#include <stdint.h>

#include <memory>

#include "../../kernels/common/dtype.h"
#include "convert.h"
#include "vec.h"

namespace natten::cpu::NATTEN_SIMD {

class F32View {
 public:
  F32View() = default;
  F32View(const void* p, DType t, int64_t n) {
    if (!p) return;
    if (t == DType::Float32) {
      ptr_ = static_cast<const float*>(p);
      return;
    }
    own_.reset(new float[(size_t)(n > 0 ? n : 1)]);
    convert_parallel(p, t, own_.get(), DType::Float32, (size_t)n);
    ptr_ = own_.get();
  }
  const float* get() const { return ptr_; }
  const float* operator+(int64_t i) const { return ptr_ + i; }

 private:
  const float* ptr_ = nullptr;
  std::unique_ptr<float[]> own_;
};

/// Sum of a[i] * b[i] over n floats (16-lane partial sums, then a horizontal add).
inline float dot_f32(const float* a, const float* b, int64_t n) {
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

/// y[i] += w * x[i] over n floats.
inline void axpy_f32(float w, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += w * x[i];
}

}  // namespace natten::cpu::NATTEN_SIMD
