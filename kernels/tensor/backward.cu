// Backward kernels of the tensor ops and the MSE loss (tensor_kernels.h), fp32 math. Every sum has an order
// fixed by the shape (never atomics), so results are deterministic:
//   column sums: partial sums over chunks of rows (a 32 x 8 block per 32 columns of a chunk), then the
//   partials of each column added in chunk order;
//   layer-norm backward: one warp per row for dx (and the row's mean and 1/std into a scratch), then the
//   column sums of dy·x̂ and dy for the affine parameters;
//   MSE loss: one block of 1024 threads, a fixed tree.
#include <algorithm>

#include "../runtime/cuda_check.h"
#include "../runtime/element.cuh"
#include "../runtime/gpu_runtime.h"
#include "../runtime/launch_util.h"
#include "row_stats.cuh"
#include "tensor_kernels.h"

namespace natten::tensor {
namespace {

constexpr int kThreads = 256;
constexpr int kColTile = 32, kRowLanes = 8;  // the column-sum block: 32 columns x 8 row lanes
constexpr int64_t kMaxChunks = 65535;         // grid.y limit
constexpr int kWarps = 8;                     // rows per block of the layer-norm backward

unsigned grid(int64_t n, const char* op) {
  const unsigned g = cuda::grid_for(n, kThreads, op);
  return g < 65536u * 16u ? g : 65536u * 16u;  // grid-stride loops cover the rest
}

/// x[r, c] (column sums of a tensor).
template <typename T>
struct Plain {
  const T* x;
  int64_t cols;
  __device__ float operator()(int64_t r, int64_t c) const { return cuda::ld(x + r * cols + c); }
};

/// dy[r, c] · x̂[r, c] from the row statistics (mean, 1/std) the layer-norm backward wrote.
template <typename T>
struct NormalizedProduct {
  const T* x;
  const T* dy;
  const float* stats;
  int64_t cols;
  __device__ float operator()(int64_t r, int64_t c) const {
    const int64_t i = r * cols + c;
    return cuda::ld(dy + i) * (cuda::ld(x + i) - stats[2 * r]) * stats[2 * r + 1];
  }
};

/// partial[chunk, c] = sum of v(r, c) over the chunk's rows.
template <class V>
__global__ void column_partials(int64_t rows, int64_t cols, int64_t chunk, V v, float* partial) {
  __shared__ float sh[kRowLanes][kColTile + 1];
  const int64_t c = blockIdx.x * (int64_t)kColTile + threadIdx.x;
  const int64_t r0 = blockIdx.y * chunk, r1 = min(rows, r0 + chunk);
  float s = 0.f;
  if (c < cols)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kRowLanes) s += v(r, c);
  sh[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y != 0 || c >= cols) return;
  float t = 0.f;
#pragma unroll
  for (int i = 0; i < kRowLanes; ++i) t += sh[i][threadIdx.x];
  partial[blockIdx.y * cols + c] = t;
}

/// out[c] = sum over chunks of partial[chunk, c], in chunk order.
template <typename T>
__global__ void column_finish(int64_t chunks, int64_t cols, const float* partial, T* out) {
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < cols; c += (int64_t)gridDim.x * blockDim.x) {
    float s = 0.f;
    for (int64_t ch = 0; ch < chunks; ++ch) s += partial[ch * cols + c];
    cuda::st(out + c, s);
  }
}

/// out[c] = sum over rows of v(r, c), enqueued on s.
template <typename T, class V>
void column_sums(int device, cudaStream_t s, int64_t rows, int64_t cols, V v, T* out, const char* op) {
  const int64_t chunk = std::max<int64_t>(1024, (rows + kMaxChunks - 1) / kMaxChunks);
  const int64_t chunks = std::max<int64_t>(1, (rows + chunk - 1) / chunk);
  gpu::DeviceScratch partial(device, (size_t)(chunks * cols) * sizeof(float));
  const dim3 blocks(cuda::grid_for(cols, kColTile, op), (unsigned)chunks);
  column_partials<<<blocks, dim3(kColTile, kRowLanes), 0, s>>>(rows, cols, chunk, v, partial.data<float>());
  column_finish<T><<<grid(cols, op), kThreads, 0, s>>>(chunks, cols, partial.data<float>(), out);
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
__global__ void gelu_backward_kernel(int64_t n, const T* x, const T* dy, T* dx, bool approx) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float v = cuda::ld(x + i);
    float d;
    if (approx) {
      const float th = tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v));
      d = 0.5f * (1.f + th) + 0.5f * v * (1.f - th * th) * 0.7978845608028654f * (1.f + 0.134145f * v * v);
    } else {
      d = 0.5f * (1.f + erff(v * 0.7071067811865476f)) + v * 0.3989422804014327f * expf(-0.5f * v * v);
    }
    cuda::st(dx + i, cuda::ld(dy + i) * d);
  }
}

/// dx of one row per warp; the row's mean and 1/std into stats[2r], stats[2r + 1].
template <typename T>
__global__ void layer_norm_backward_kernel(int64_t rows, int64_t C, const T* x, const T* w, const T* dy, T* dx,
                                           float* stats, float eps) {
  const int lane = threadIdx.x % 32;
  for (int64_t r = blockIdx.x * (int64_t)kWarps + threadIdx.x / 32; r < rows; r += (int64_t)gridDim.x * kWarps) {
    const T* xr = x + r * C;
    const T* gr = dy + r * C;
    float mean, rstd;
    row_stats(xr, C, lane, eps, mean, rstd);
    float sg = 0.f, sgx = 0.f;
    for (int64_t c = lane; c < C; c += 32) {
      const float g = w ? cuda::ld(gr + c) * cuda::ld(w + c) : cuda::ld(gr + c);
      sg += g;
      sgx += g * (cuda::ld(xr + c) - mean) * rstd;
    }
    sg = warp_sum(sg) / (float)C;
    sgx = warp_sum(sgx) / (float)C;
    for (int64_t c = lane; c < C; c += 32) {
      const float g = w ? cuda::ld(gr + c) * cuda::ld(w + c) : cuda::ld(gr + c);
      cuda::st(dx + r * C + c, rstd * (g - sg - (cuda::ld(xr + c) - mean) * rstd * sgx));
    }
    if (lane == 0) stats[2 * r] = mean, stats[2 * r + 1] = rstd;
  }
}

constexpr int kLossThreads = 1024;

template <typename T>
__global__ void mse_loss_kernel(int64_t n, const T* pred, const T* target, T* out) {
  __shared__ float sh[kLossThreads / 32];
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < n; i += kLossThreads) {
    const float d = cuda::ld(pred + i) - cuda::ld(target + i);
    s += d * d;
  }
  s = warp_sum(s);
  if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = s;
  __syncthreads();
  if (threadIdx.x >= 32) return;
  s = warp_sum(sh[threadIdx.x]);
  if (threadIdx.x == 0) cuda::st(out, s / (float)n);  // 0/0: NaN for no elements, as PyTorch
}

template <typename T>
__global__ void mse_loss_backward_kernel(int64_t n, const T* pred, const T* target, const T* dy, T* dpred,
                                         T* dtarget) {
  const float factor = 2.f * cuda::ld(dy) / (float)n;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float g = factor * (cuda::ld(pred + i) - cuda::ld(target + i));
    cuda::st(dpred + i, g);
    if (dtarget) cuda::st(dtarget + i, -g);
  }
}

cudaStream_t stream_of(int device) {
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  return static_cast<cudaStream_t>(gpu::stream(device));
}

}  // namespace

void sum_rows(int device, DType t, const SumRowsArgs& a) {
  if (!a.cols) return;
  cudaStream_t s = stream_of(device);
  cuda::dispatch_dtype(t, "sumRows", [&](auto tag) {
    using T = typename decltype(tag)::type;
    column_sums(device, s, a.rows, a.cols, Plain<T>{static_cast<const T*>(a.x), a.cols}, static_cast<T*>(a.out),
                "sumRows");
  });
}

void gelu_backward(int device, DType t, const GeluBackwardArgs& a) {
  if (!a.n) return;
  cudaStream_t s = stream_of(device);
  cuda::dispatch_dtype(t, "geluBackward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    gelu_backward_kernel<T><<<grid(a.n, "geluBackward"), kThreads, 0, s>>>(
        a.n, static_cast<const T*>(a.x), static_cast<const T*>(a.dy), static_cast<T*>(a.dx), a.tanh);
  });
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

void layer_norm_backward(int device, DType t, const LayerNormBackwardArgs& a) {
  if (!a.cols) return;
  cudaStream_t s = stream_of(device);
  gpu::DeviceScratch stats(device, (size_t)std::max<int64_t>(1, 2 * a.rows) * sizeof(float));
  unsigned blocks = cuda::grid_for(a.rows, kWarps, "layerNormBackward");
  blocks = blocks < 65536u * 4u ? blocks : 65536u * 4u;
  cuda::dispatch_dtype(t, "layerNormBackward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = static_cast<const T*>(a.x);
    const T* dy = static_cast<const T*>(a.dy);
    if (a.rows)
      layer_norm_backward_kernel<T><<<blocks, kWarps * 32, 0, s>>>(a.rows, a.cols, x, static_cast<const T*>(a.weight),
                                                                    dy, static_cast<T*>(a.dx), stats.data<float>(),
                                                                    (float)a.eps);
    NATTEN_CUDA_CHECK(cudaGetLastError());
    if (a.dweight)
      column_sums(device, s, a.rows, a.cols, NormalizedProduct<T>{x, dy, stats.data<float>(), a.cols},
                  static_cast<T*>(a.dweight), "layerNormBackward");
    if (a.dbias)
      column_sums(device, s, a.rows, a.cols, Plain<T>{dy, a.cols}, static_cast<T*>(a.dbias), "layerNormBackward");
  });
}

void mse_loss(int device, DType t, const MseLossArgs& a) {
  cudaStream_t s = stream_of(device);
  cuda::dispatch_dtype(t, "mseLoss", [&](auto tag) {
    using T = typename decltype(tag)::type;
    mse_loss_kernel<T><<<1, kLossThreads, 0, s>>>(a.n, static_cast<const T*>(a.pred), static_cast<const T*>(a.target),
                                                  static_cast<T*>(a.out));
  });
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

void mse_loss_backward(int device, DType t, const MseLossBackwardArgs& a) {
  if (!a.n) return;
  cudaStream_t s = stream_of(device);
  cuda::dispatch_dtype(t, "mseLossBackward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    mse_loss_backward_kernel<T><<<grid(a.n, "mseLossBackward"), kThreads, 0, s>>>(
        a.n, static_cast<const T*>(a.pred), static_cast<const T*>(a.target), static_cast<const T*>(a.dy),
        static_cast<T*>(a.dpred), static_cast<T*>(a.dtarget));
  });
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace natten::tensor
