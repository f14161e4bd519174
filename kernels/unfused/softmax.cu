// Row softmax over the last axis and its backward, one warp per row, fp32 math.
//   forward:  y = exp(x - max) / sum exp(x - max); -inf entries give 0, a row of only -inf gives zeros.
//             A NaN anywhere in a row makes the whole row NaN, -inf entries included (as PyTorch); so
//             does +inf (exp(inf - inf) is NaN).
//   backward: dx = y * (dy - sum(dy * y)), exactly 0 where y == 0 (masked positions stay masked).
#include "../launch/cuda_check.h"
#include "../reference/launch_util.h"
#include "../reference/reference_common.cuh"
#include "unfused.h"

namespace natten::unfused {
namespace {

constexpr int kWarps = 8;

/// max(a, b) that returns NaN when either is NaN (fmaxf returns the other operand): one max.NaN.f32 on
/// sm_80+, the same single instruction count as fmaxf.
__device__ __forceinline__ float max_nan(float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  float r;
  asm("max.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
  return r;
#else
  return a > b || a != a ? a : b;
#endif
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = max_nan(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

template <typename T>
__global__ void __launch_bounds__(kWarps * 32)
    softmax_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t cols) {
  const int64_t row = (int64_t)blockIdx.x * kWarps + threadIdx.x / 32;
  if (row >= rows) return;
  const int lane = threadIdx.x % 32;
  const T* xr = x + row * cols;
  // Per-lane running max and sum, then merged across the warp. The max keeps NaN, so a row holding a
  // NaN has mw = NaN and l = NaN (never mistaken for a row of only -inf).
  float m = -INFINITY, l = 0.f;
  for (int64_t c = lane; c < cols; c += 32) {
    const float v = cuda::ld(xr + c);
    if (v == -INFINITY) continue;
    const float m_new = max_nan(m, v);
    l = l * expf(m - m_new) + expf(v - m_new);
    m = m_new;
  }
  const float mw = warp_max(m);
  l = mw == -INFINITY ? 0.f : l * expf(m - mw);
  l = reference::warp_sum(l);
  // Only a row of nothing but -inf gives zeros; otherwise l >= 1, or NaN (a NaN or +inf in the row), and
  // that NaN reaches every entry: through inv, and through `masked` for the -inf entries.
  const float inv = mw == -INFINITY ? 0.f : 1.f / l;
  const float masked = isnan(inv) ? inv : 0.f;
  T* yr = y + row * cols;
  for (int64_t c = lane; c < cols; c += 32) {
    const float v = cuda::ld(xr + c);
    cuda::st(yr + c, v == -INFINITY ? masked : expf(v - mw) * inv);
  }
}

template <typename T>
__global__ void __launch_bounds__(kWarps * 32)
    softmax_backward_kernel(const T* __restrict__ dy, const T* __restrict__ y, T* __restrict__ dx, int64_t rows,
                            int64_t cols) {
  const int64_t row = (int64_t)blockIdx.x * kWarps + threadIdx.x / 32;
  if (row >= rows) return;
  const int lane = threadIdx.x % 32;
  const int64_t o = row * cols;
  float s = 0.f;
  for (int64_t c = lane; c < cols; c += 32) {
    const float yv = cuda::ld(y + o + c);
    if (yv != 0.f) s += cuda::ld(dy + o + c) * yv;
  }
  s = reference::warp_sum(s);
  for (int64_t c = lane; c < cols; c += 32) {
    const float yv = cuda::ld(y + o + c);
    cuda::st(dx + o + c, yv == 0.f ? 0.f : yv * (cuda::ld(dy + o + c) - s));
  }
}

}  // namespace

void softmax(cudaStream_t s, DType t, const void* x, void* y, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  cuda::dispatch_dtype(t, "softmax", [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_kernel<T><<<cuda::grid_for(rows, kWarps, "softmax"), kWarps * 32, 0, s>>>(
        static_cast<const T*>(x), static_cast<T*>(y), rows, cols);
    NATTEN_CUDA_CHECK(cudaGetLastError());
  });
}

void softmax_backward(cudaStream_t s, DType t, const void* dy, const void* y, void* dx, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  cuda::dispatch_dtype(t, "softmax backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_backward_kernel<T><<<cuda::grid_for(rows, kWarps, "softmax backward"), kWarps * 32, 0, s>>>(
        static_cast<const T*>(dy), static_cast<const T*>(y), static_cast<T*>(dx), rows, cols);
    NATTEN_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace natten::unfused
