// Multi-tensor optimizer and unscale kernels (optim_kernels.h). A launch takes up to kMaxTensorsPerLaunch
// tensors; each CTA owns one chunk of kChunk elements of one tensor (first_block maps CTAs to tensors, as
// the blocks of all tensors are numbered one after another), so a step over many parameters is a few launches
// rather than one per parameter. Per-element math: kernels/common/optim_update.h.
#include "../common/optim_update.h"
#include "../runtime/cuda_check.h"
#include "../runtime/element.cuh"
#include "../runtime/gpu_runtime.h"
#include "../runtime/launch_util.h"
#include "optim_kernels.h"

namespace natten::optim {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kChunk = 8192;              // elements per CTA
constexpr int64_t kMaxBlocks = 0x7fffffffLL;  // CTAs of a one-dimensional grid

/// The tensors of one launch: item i owns CTAs [first_block[i], first_block[i + 1]).
template <class Item>
struct Batch {
  int count;
  int first_block[kMaxTensorsPerLaunch + 1];
  Item items[kMaxTensorsPerLaunch];
};

/// The item of this CTA and the element range of its chunk.
template <class Item>
__device__ __forceinline__ int item_of_block(const Batch<Item>& b) {
  int i = 0;
  while (i + 1 < b.count && (int)blockIdx.x >= b.first_block[i + 1]) ++i;
  return i;
}

/// Splits items[0, count) into launches of at most kMaxTensorsPerLaunch items and calls
/// launch(batch, blocks) for each; items with n == 0 take no CTA.
template <class Item, class NOf, class Launch>
void for_each_batch(int64_t count, const Item* items, NOf n_of, Launch launch) {
  for (int64_t at = 0; at < count;) {
    Batch<Item> b{};
    int64_t blocks = 0;
    for (; at < count && b.count < kMaxTensorsPerLaunch; ++at) {
      const int64_t chunks = (n_of(items[at]) + kChunk - 1) / kChunk;
      if (chunks == 0) continue;
      if (chunks > kMaxBlocks - blocks) {  // past one grid: the rest goes to the next launch
        if (b.count == 0) throw Error(ErrorKind::Range, "ERR_NATTEN_UNSUPPORTED", "optimizer step: tensor too large");
        break;
      }
      b.first_block[b.count] = (int)blocks;
      b.items[b.count++] = items[at];
      blocks += chunks;
    }
    if (b.count == 0) continue;
    b.first_block[b.count] = (int)blocks;
    launch(b, (unsigned)blocks);
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) step_kernel(Batch<OptimTensor> b, OptimCoeffs<float> c, OptimKind kind) {
  const int it = item_of_block(b);
  const OptimTensor& x = b.items[it];
  const int64_t begin = (int64_t)(blockIdx.x - b.first_block[it]) * kChunk;
  const int64_t end = begin + kChunk < x.n ? begin + kChunk : x.n;
  const float* g = static_cast<const float*>(x.grad);
  float* master = static_cast<float*>(x.master);
  float *s0 = static_cast<float*>(x.state0), *s1 = static_cast<float*>(x.state1), *s2 = static_cast<float*>(x.state2);
  T* param = static_cast<T*>(x.param);
  const float step_size = (float)x.step_size, bc2 = (float)x.bias_correction2_sqrt;
  for (int64_t i = begin + threadIdx.x; i < end; i += kThreads) {
    const float p = master ? master[i] : cuda::ld(param + i);
    const float np = kind == OptimKind::Sgd
                         ? sgd_update<float>(c, p, g[i], s0 ? s0 + i : nullptr, x.first)
                         : adamw_update<float>(c, p, g[i], s0 + i, s1 + i, s2 ? s2 + i : nullptr, step_size, bc2);
    if (master) master[i] = np;
    cuda::st(param + i, np);
  }
}

__global__ void __launch_bounds__(kThreads) unscale_kernel(Batch<GradSpan> b, float inv_scale, float* found_inf) {
  const int it = item_of_block(b);
  const GradSpan& x = b.items[it];
  const int64_t begin = (int64_t)(blockIdx.x - b.first_block[it]) * kChunk;
  const int64_t end = begin + kChunk < x.n ? begin + kChunk : x.n;
  float* g = static_cast<float*>(x.data);
  bool bad = false;
  for (int64_t i = begin + threadIdx.x; i < end; i += kThreads) {
    const float v = g[i];
    bad |= !optim_finite(v);
    g[i] = v * inv_scale;
  }
  if (__syncthreads_or(bad) && threadIdx.x == 0) *found_inf = 1.f;  // every writer stores the same value
}

}  // namespace

void step(int device, DType t, const OptimStepArgs& a) {
  if (a.count == 0) return;
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(gpu::stream(device));
  const OptimCoeffs<float> c = optim_coeffs<float>(a.hyper);
  cuda::dispatch_dtype(t, "optimizer step", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for_each_batch(
        a.count, a.tensors, [](const OptimTensor& x) { return x.n; },
        [&](const Batch<OptimTensor>& b, unsigned blocks) {
          step_kernel<T><<<blocks, kThreads, 0, s>>>(b, c, a.hyper.kind);
          NATTEN_CUDA_CHECK(cudaGetLastError());
        });
  });
}

void unscale(int device, DType t, const UnscaleArgs& a) {
  if (t != DType::Float32)
    throw Error(ErrorKind::Type, "ERR_NATTEN_UNSUPPORTED", "unscale: CUDA gradients are float32");
  if (a.count == 0) return;
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(gpu::stream(device));
  for_each_batch(
      a.count, a.grads, [](const GradSpan& x) { return x.n; },
      [&](const Batch<GradSpan>& b, unsigned blocks) {
        unscale_kernel<<<blocks, kThreads, 0, s>>>(b, (float)a.inv_scale, a.found_inf);
        NATTEN_CUDA_CHECK(cudaGetLastError());
      });
}

}  // namespace natten::optim
