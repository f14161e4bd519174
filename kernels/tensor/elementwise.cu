// Element-wise tensor kernels (tensor_kernels.h): add with b repeated over a's leading elements, and GELU
// (exact erf or the tanh approximation), grid-stride loops, fp32 math.
#include "../runtime/cuda_check.h"
#include "../runtime/element.cuh"
#include "../runtime/gpu_runtime.h"
#include "../runtime/launch_util.h"
#include "tensor_kernels.h"

namespace natten::tensor {
namespace {

constexpr int kThreads = 256;

unsigned grid(int64_t n, const char* op) {
  const unsigned g = cuda::grid_for(n, kThreads, op);
  return g < 65536u * 16u ? g : 65536u * 16u;  // grid-stride loops cover the rest
}

template <typename T>
__global__ void add_kernel(int64_t n, int64_t bn, const T* a, const T* b, T* out) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    cuda::st(out + i, cuda::ld(a + i) + cuda::ld(b + i % bn));
}

template <typename T>
__global__ void gelu_kernel(int64_t n, const T* x, T* out, bool approx) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float v = cuda::ld(x + i);
    const float y = approx ? 0.5f * v * (1.f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)))
                           : 0.5f * v * (1.f + erff(v * 0.7071067811865476f));
    cuda::st(out + i, y);
  }
}

}  // namespace

void add(int device, DType t, const AddArgs& a) {
  if (!a.n) return;
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(gpu::stream(device));
  cuda::dispatch_dtype(t, "add", [&](auto tag) {
    using T = typename decltype(tag)::type;
    add_kernel<T><<<grid(a.n, "add"), kThreads, 0, s>>>(a.n, a.b_numel, static_cast<const T*>(a.a),
                                                        static_cast<const T*>(a.b), static_cast<T*>(a.out));
  });
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

void gelu(int device, DType t, const GeluArgs& a) {
  if (!a.n) return;
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(gpu::stream(device));
  cuda::dispatch_dtype(t, "gelu", [&](auto tag) {
    using T = typename decltype(tag)::type;
    gelu_kernel<T>
        <<<grid(a.n, "gelu"), kThreads, 0, s>>>(a.n, static_cast<const T*>(a.x), static_cast<T*>(a.out), a.tanh);
  });
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace natten::tensor
