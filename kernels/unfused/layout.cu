// Layout and scaling kernels of the unfused chain run from the fused layout (neighborhoodAttention*d with
// useFusedNA(false)): fused [B, N, Hsrc, C] <-> unfused [B, H, N, C] (repeating KV heads for GQA on the
// way in, summing them back for gradients on the way out) and an element-wise scale. fp32 math, one
// rounding per stored element.
#include "../runtime/cuda_check.h"
#include "../runtime/gpu_runtime.h"
#include "../runtime/element.cuh"
#include "../runtime/launch_util.h"
#include "layout.h"

namespace natten::unfused {
namespace {

constexpr int kThreads = 256;

// One thread per destination element dst[b, h, n, c] = src[b, n, h * Hs / H, c].
template <typename T>
__global__ void fused_to_unfused_kernel(int64_t B, int64_t N, int64_t H, int64_t Hs, int64_t C, const T* src, T* dst) {
  const int64_t total = B * H * N * C;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t c = i % C, n = (i / C) % N, h = (i / (C * N)) % H, b = i / (C * N * H);
    dst[i] = src[((b * N + n) * Hs + h * Hs / H) * C + c];
  }
}

// One thread per destination element dst[b, n, h, c] = sum of src[b, g, n, c] over the Hs / H heads g
// that map to h (g * H / Hs == h, i.e. g in [h * Hs / H, (h + 1) * Hs / H)).
template <typename T>
__global__ void unfused_to_fused_kernel(int64_t B, int64_t N, int64_t Hs, int64_t H, int64_t C, const T* src, T* dst) {
  const int64_t total = B * N * H * C;
  const int64_t group = Hs / H;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t c = i % C, h = (i / C) % H, n = (i / (C * H)) % N, b = i / (C * H * N);
    if (group == 1) {
      dst[i] = src[((b * Hs + h) * N + n) * C + c];
      continue;
    }
    float acc = 0.f;
    for (int64_t g = h * group; g < (h + 1) * group; ++g) acc += cuda::ld(src + ((b * Hs + g) * N + n) * C + c);
    cuda::st(dst + i, acc);
  }
}

template <typename T>
__global__ void scale_kernel(int64_t n, const T* src, T* dst, float factor) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    cuda::st(dst + i, cuda::ld(src + i) * factor);
}

unsigned grid(int64_t n, const char* op) {
  const unsigned g = cuda::grid_for(n, kThreads, op);
  return g < 65536u * 16u ? g : 65536u * 16u;  // grid-stride loops cover the rest
}

}  // namespace

void fused_to_unfused(int device, DType t, int64_t B, int64_t N, int64_t H, int64_t Hs, int64_t C, const void* src,
                      void* dst) {
  const int64_t n = B * H * N * C;
  if (!n) return;
  auto s = static_cast<cudaStream_t>(gpu::stream(device));
  cuda::dispatch_dtype(t, "fusedToUnfused", [&](auto tag) {
    using T = typename decltype(tag)::type;
    fused_to_unfused_kernel<T><<<grid(n, "fusedToUnfused"), kThreads, 0, s>>>(
        B, N, H, Hs, C, static_cast<const T*>(src), static_cast<T*>(dst));
  });
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

void unfused_to_fused(int device, DType t, int64_t B, int64_t N, int64_t Hs, int64_t H, int64_t C, const void* src,
                      void* dst) {
  const int64_t n = B * N * H * C;
  if (!n) return;
  auto s = static_cast<cudaStream_t>(gpu::stream(device));
  cuda::dispatch_dtype(t, "unfusedToFused", [&](auto tag) {
    using T = typename decltype(tag)::type;
    unfused_to_fused_kernel<T><<<grid(n, "unfusedToFused"), kThreads, 0, s>>>(
        B, N, Hs, H, C, static_cast<const T*>(src), static_cast<T*>(dst));
  });
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

void scale(int device, DType t, int64_t n, const void* src, void* dst, double factor) {
  if (!n) return;
  auto s = static_cast<cudaStream_t>(gpu::stream(device));
  cuda::dispatch_dtype(t, "scale", [&](auto tag) {
    using T = typename decltype(tag)::type;
    scale_kernel<T>
        <<<grid(n, "scale"), kThreads, 0, s>>>(n, static_cast<const T*>(src), static_cast<T*>(dst), (float)factor);
  });
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace natten::unfused
