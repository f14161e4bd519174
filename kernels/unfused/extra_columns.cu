// The additional-key columns of the unfused ops: every query attends to the same n_extra extra rows
// ([B*H, n_extra, C]) after its window columns.
//   extra_dot:    attn[q, K + e] = x[q] . extra[e]        (one warp per query row)
//   extra_reduce: out[e] = sum_q attn[q, K + e] * x[q]    (one CTA per (row, 8 extras, 32 channels):
//                 warps split the queries, a shared-memory reduction joins them)
#include "../runtime/cuda_check.h"
#include "../runtime/launch_util.h"
#include "../runtime/warp_rows.cuh"
#include "unfused.h"

namespace natten::unfused {
namespace {

constexpr int kWarps = 8;
constexpr int kExtrasPerCta = 8;

template <typename T>
__global__ void __launch_bounds__(kWarps * 32)
    extra_dot_kernel(int64_t rows, int64_t tokens, int64_t n_extra, int64_t window, int64_t channels,
                     const T* __restrict__ x, const T* __restrict__ extra, T* __restrict__ attn, int64_t cols) {
  const int64_t row = (int64_t)blockIdx.x * kWarps + threadIdx.x / 32;
  if (row >= rows) return;
  const int lane = threadIdx.x % 32;
  const T* xrow = x + row * channels;
  reference::LaneRow xr;
  xr.load(xrow, channels, lane);
  const T* e0 = extra + (row / tokens) * n_extra * channels;
  for (int64_t e = 0; e < n_extra; ++e) {
    const float s = reference::warp_dot(xr, xrow, e0 + e * channels, channels, lane);
    if (lane == 0) cuda::st(attn + row * cols + window + e, s);
  }
}

template <typename T>
__global__ void __launch_bounds__(kWarps * 32)
    extra_reduce_kernel(int64_t tokens, int64_t n_extra, int64_t window, int64_t channels, const T* __restrict__ attn,
                        int64_t cols, const T* __restrict__ x, T* __restrict__ out) {
  __shared__ float red[kWarps][kExtrasPerCta][32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t e_groups = (n_extra + kExtrasPerCta - 1) / kExtrasPerCta;
  const int64_t c_groups = (channels + 31) / 32;
  int64_t id = blockIdx.x;
  const int64_t c0 = (id % c_groups) * 32;
  id /= c_groups;
  const int64_t e0 = (id % e_groups) * kExtrasPerCta;
  const int64_t bh = id / e_groups;
  const int64_t c = c0 + lane;
  float acc[kExtrasPerCta] = {};
  for (int64_t q = warp; q < tokens; q += kWarps) {
    const int64_t row = bh * tokens + q;
    const float xv = c < channels ? cuda::ld(x + row * channels + c) : 0.f;
#pragma unroll
    for (int e = 0; e < kExtrasPerCta; ++e)
      if (e0 + e < n_extra) acc[e] += cuda::ld(attn + row * cols + window + e0 + e) * xv;
  }
#pragma unroll
  for (int e = 0; e < kExtrasPerCta; ++e) red[warp][e][lane] = acc[e];
  __syncthreads();
  for (int i = threadIdx.x; i < kExtrasPerCta * 32; i += kWarps * 32) {
    const int e = i / 32, l = i % 32;
    float s = 0.f;
    for (int w = 0; w < kWarps; ++w) s += red[w][e][l];
    if (e0 + e < n_extra && c0 + l < channels) cuda::st(out + ((bh * n_extra) + e0 + e) * channels + c0 + l, s);
  }
}

}  // namespace

void extra_dot(cudaStream_t s, const NaProblem& p, DType t, int64_t channels, const void* x, const void* extra,
               void* attn, int64_t cols) {
  const int64_t rows = p.batch * p.heads * p.tokens();
  if (rows == 0 || p.n_extra == 0) return;
  cuda::dispatch_dtype(t, "unfused QK", [&](auto tag) {
    using T = typename decltype(tag)::type;
    extra_dot_kernel<T><<<cuda::grid_for(rows, kWarps, "unfused QK"), kWarps * 32, 0, s>>>(
        rows, p.tokens(), p.n_extra, p.window_size(), channels, static_cast<const T*>(x), static_cast<const T*>(extra),
        static_cast<T*>(attn), cols);
    NATTEN_CUDA_CHECK(cudaGetLastError());
  });
}

void extra_reduce(cudaStream_t s, const NaProblem& p, DType t, int64_t channels, const void* attn, int64_t cols,
                  const void* x, void* out) {
  const int64_t bh = p.batch * p.heads;
  if (bh == 0 || p.n_extra == 0 || channels == 0) return;
  const int64_t ctas = bh * ((p.n_extra + kExtrasPerCta - 1) / kExtrasPerCta) * ((channels + 31) / 32);
  cuda::dispatch_dtype(t, "unfused NA backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    extra_reduce_kernel<T><<<cuda::grid_for(ctas, 1, "unfused NA backward"), kWarps * 32, 0, s>>>(
        p.tokens(), p.n_extra, p.window_size(), channels, static_cast<const T*>(attn), cols, static_cast<const T*>(x),
        static_cast<T*>(out));
    NATTEN_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace natten::unfused
