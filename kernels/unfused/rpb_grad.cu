// Gradient of the relative positional bias: d_rpb[h, o] = sum over batch, queries and window positions
// with relative offset o (per axis: key - query + k - 1, group-local) of d_attn. A CTA takes 64 query
// rows of one (batch, head), accumulates into a shared-memory copy of the head's bias table with shared
// atomics, then adds it to an fp32 scratch table in global memory; a last pass rounds into the output.
#include "../runtime/cuda_check.h"
#include "../runtime/axes3.cuh"
#include "../runtime/element.cuh"
#include "../runtime/launch_util.h"
#include "unfused.h"

namespace natten::unfused {
namespace {

constexpr int kWarps = 8;
constexpr int kQueriesPerCta = 64;

NATTEN_HD int64_t table_size(const NaProblem& p) {
  return (int64_t)(2 * p.kernel[0] - 1) * (2 * p.kernel[1] - 1) * (2 * p.kernel[2] - 1);
}

template <typename T>
__global__ void __launch_bounds__(kWarps * 32, 1)
    rpb_accumulate_kernel(const __grid_constant__ NaProblem p, const T* __restrict__ d_attn, int64_t cols,
                          float* __restrict__ scratch, bool shared_table) {
  extern __shared__ float table_smem[];
  const int64_t n = p.tokens();
  const int64_t chunks = (n + kQueriesPerCta - 1) / kQueriesPerCta;
  const int64_t bh = blockIdx.x / chunks;
  const int64_t q_first = (blockIdx.x % chunks) * kQueriesPerCta;
  const int64_t h = bh % p.heads;
  const int64_t size = table_size(p);
  float* const table = shared_table ? table_smem : scratch + h * size;
  if (shared_table) {
    for (int64_t i = threadIdx.x; i < size; i += blockDim.x) table[i] = 0.f;
    __syncthreads();
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int k1 = p.kernel[1], k2 = p.kernel[2];
  const int64_t window = p.window_size();
  for (int64_t q = q_first + warp; q < q_first + kQueriesPerCta && q < n; q += kWarps) {
    int x[3], lq[3];
    Range w[3];
    cuda::coords_of(p, q, x);
#pragma unroll
    for (int a = 0; a < 3; ++a) {
      lq[a] = x[a] / p.dilation[a];
      w[a] = cuda::group_window(p, a, x[a] % p.dilation[a], lq[a]);
    }
    const T* row = d_attn + (bh * n + q) * cols;
    for (int64_t i = lane; i < window; i += 32) {
      const int p2 = (int)(i % k2), p1 = (int)((i / k2) % k1), p0 = (int)(i / ((int64_t)k1 * k2));
      if (w[0].start + p0 >= w[0].end || w[1].start + p1 >= w[1].end || w[2].start + p2 >= w[2].end) continue;
      const int o0 = w[0].start + p0 - lq[0] + p.kernel[0] - 1;
      const int o1 = w[1].start + p1 - lq[1] + k1 - 1;
      const int o2 = w[2].start + p2 - lq[2] + k2 - 1;
      atomicAdd(table + ((int64_t)o0 * (2 * k1 - 1) + o1) * (2 * k2 - 1) + o2, cuda::ld(row + i));
    }
  }
  if (shared_table) {
    __syncthreads();
    for (int64_t i = threadIdx.x; i < size; i += blockDim.x)
      if (table[i] != 0.f) atomicAdd(scratch + h * size + i, table[i]);
  }
}

template <typename T>
__global__ void round_kernel(const float* __restrict__ src, T* __restrict__ dst, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    cuda::st(dst + i, src[i]);
}

}  // namespace

int64_t rpb_grad_scratch(const NaProblem& p) { return p.heads * table_size(p); }

void rpb_grad(cudaStream_t s, const DeviceLimits& dev, const NaProblem& p, DType t, const void* d_attn, int64_t cols,
              float* scratch, void* d_rpb) {
  const int64_t total = rpb_grad_scratch(p);
  if (total == 0) return;
  NATTEN_CUDA_CHECK(cudaMemsetAsync(scratch, 0, total * sizeof(float), s));
  const int64_t bytes = table_size(p) * (int64_t)sizeof(float);
  const bool shared_table = bytes <= dev.smem_optin;
  const int smem = shared_table ? (int)bytes : 0;
  const int64_t n = p.tokens();
  const int64_t ctas = p.batch * p.heads * ((n + kQueriesPerCta - 1) / kQueriesPerCta);
  cuda::dispatch_dtype(t, "unfused QK backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (p.batch * n > 0) {
      if (smem > 48 * 1024)
        NATTEN_CUDA_CHECK(
            cudaFuncSetAttribute(rpb_accumulate_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
      rpb_accumulate_kernel<T><<<cuda::grid_for(ctas, 1, "unfused QK backward"), kWarps * 32, smem, s>>>(
          p, static_cast<const T*>(d_attn), cols, scratch, shared_table);
      NATTEN_CUDA_CHECK(cudaGetLastError());
    }
    round_kernel<T><<<cuda::grid_for(total < 65536 * 256 ? total : 65536 * 256, 256, "rpb"), 256, 0, s>>>(
        scratch, static_cast<T*>(d_rpb), total);
    NATTEN_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace natten::unfused
