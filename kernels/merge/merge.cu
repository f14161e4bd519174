// mergeAttentions on CUDA: combines attention computed over disjoint key sets from (output, LSE) pairs:
// out = sum_i exp(lse_i - lse) out_i with lse = log sum_i exp(lse_i). One warp per row; a row whose parts
// saw no key at all (every lse_i = -inf) gets output 0 and lse -inf, as on the CPU.
#include "../runtime/cuda_check.h"
#include "../runtime/gpu_runtime.h"
#include "../runtime/element.cuh"
#include "../runtime/launch_util.h"
#include "merge.h"

namespace natten::fused {
namespace {

constexpr int kMaxParts = 16;
struct Parts {
  const void* outs[kMaxParts];
  const float* lses[kMaxParts];
  int n;
};

template <typename T>
__global__ void merge_kernel(Parts parts, int64_t rows, int64_t dv, T* out, float* lse) {
  const int64_t row = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  float m = -INFINITY;
  for (int i = 0; i < parts.n; ++i) m = fmaxf(m, parts.lses[i][row]);
  float w[kMaxParts];
  float sum = 0.f;
  for (int i = 0; i < parts.n; ++i) sum += (w[i] = m == -INFINITY ? 0.f : expf(parts.lses[i][row] - m));
  for (int64_t c = lane; c < dv; c += 32) {
    float acc = 0.f;
    for (int i = 0; i < parts.n; ++i)
      if (w[i] != 0.f) acc += w[i] / sum * cuda::ld(static_cast<const T*>(parts.outs[i]) + row * dv + c);
    cuda::st(out + row * dv + c, acc);
  }
  if (lane == 0) lse[row] = m == -INFINITY ? -INFINITY : m + logf(sum);
}

}  // namespace

void merge_attentions(int device, DType t, int n, const void* const* outs, const float* const* lses, int64_t rows,
                      int64_t dv, void* out, float* lse) {
  if (n < 1 || n > kMaxParts)
    throw Error(
        ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE",
        "mergeAttentions on CUDA merges 1 to " + std::to_string(kMaxParts) + " parts, got " + std::to_string(n));
  if (!rows) return;
  Parts p{};
  p.n = n;
  for (int i = 0; i < n; ++i) {
    p.outs[i] = outs[i];
    p.lses[i] = lses[i];
  }
  auto s = static_cast<cudaStream_t>(gpu::stream(device));
  constexpr int kWarps = 8;
  cuda::dispatch_dtype(t, "mergeAttentions", [&](auto tag) {
    using T = typename decltype(tag)::type;
    merge_kernel<T><<<cuda::grid_for(rows, kWarps, "mergeAttentions"), kWarps * 32, 0, s>>>(p, rows, dv,
                                                                                            static_cast<T*>(out), lse);
  });
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace natten::fused
