// Layer norm over rows (tensor_kernels.h): one warp per row, mean then variance in two passes over the row
// (no cancellation), then the normalised, scaled and shifted row; fp32 math.
#include "../runtime/cuda_check.h"
#include "../runtime/element.cuh"
#include "../runtime/gpu_runtime.h"
#include "../runtime/launch_util.h"
#include "row_stats.cuh"
#include "tensor_kernels.h"

namespace natten::tensor {
namespace {

constexpr int kWarps = 8;

template <typename T>
__global__ void layer_norm_kernel(int64_t rows, int64_t C, const T* x, const T* w, const T* b, T* out, float eps) {
  const int lane = threadIdx.x % 32;
  for (int64_t r = blockIdx.x * (int64_t)kWarps + threadIdx.x / 32; r < rows; r += (int64_t)gridDim.x * kWarps) {
    const T* xr = x + r * C;
    float mean, inv;
    row_stats(xr, C, lane, eps, mean, inv);
    for (int64_t c = lane; c < C; c += 32) {
      float y = (cuda::ld(xr + c) - mean) * inv;
      if (w) y *= cuda::ld(w + c);
      if (b) y += cuda::ld(b + c);
      cuda::st(out + r * C + c, y);
    }
  }
}

}  // namespace

void layer_norm(int device, DType t, const LayerNormArgs& a) {
  if (!a.rows || !a.cols) return;
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(gpu::stream(device));
  unsigned blocks = cuda::grid_for(a.rows, kWarps, "layerNorm");
  blocks = blocks < 65536u * 4u ? blocks : 65536u * 4u;
  cuda::dispatch_dtype(t, "layerNorm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    layer_norm_kernel<T><<<blocks, kWarps * 32, 0, s>>>(a.rows, a.cols, static_cast<const T*>(a.x),
                                                        static_cast<const T*>(a.weight), static_cast<const T*>(a.bias),
                                                        static_cast<T*>(a.out), (float)a.eps);
  });
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace natten::tensor
