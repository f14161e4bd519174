// Kernel launches of the fused NA backward for one element type; included by fna_backward_f16.cu and
// fna_backward_bf16.cu, which instantiate launch_backward_kernels for their type (two translation units
// so the two types compile in parallel).
#pragma once
#include <cuda_runtime.h>
#include "../../runtime/cuda_check.h"
#include "fna_backward.h"
#include "fna_backward_aux.h"
#include "fna_backward_dq.h"
#include "fna_backward_kv.h"
#include "fna_backward_params.h"

namespace natten::fused {

/// Enqueues every pass of the backward (see fna_backward.h) for element type Tag.
template <class Tag>
void launch_backward_kernels(const BackwardParams& prm, const BackwardPlan& plan, const void* out, cudaStream_t s);

/// The sm_90a wgmma main pass (fna_backward_wgmma_kernel.cuh), instantiated in fna_backward_wgmma_f16.cu /
/// fna_backward_wgmma_bf16.cu.
template <class Tag>
void launch_backward_wgmma(const BackwardParams& prm, int tier, int extra, dim3 grid, cudaStream_t s);
extern template void launch_backward_wgmma<F16>(const BackwardParams&, int, int, dim3, cudaStream_t);
extern template void launch_backward_wgmma<BF16>(const BackwardParams&, int, int, dim3, cudaStream_t);

namespace detail {

inline unsigned grid_1d(int64_t threads_needed, int block) {
  int64_t b = (threads_needed + block - 1) / block;
  if (b < 1) b = 1;
  return (unsigned)(b < (1 << 20) ? b : (1 << 20));  // grid-stride loops cover the rest
}

template <class Tag, int DMAX, int BQ>
void launch_kv_kernel(const BackwardParams& prm, int extra, dim3 grid, cudaStream_t s) {
  const size_t smem = sizeof(BwdKvSmem<Tag, DMAX, BQ>);
  auto kernel = fna_backward_kv_kernel<Tag, DMAX, BQ>;
  NATTEN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  kernel<<<grid, kBwdThreads, smem, s>>>(prm, extra);
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

template <class Tag, int DMAX>
void launch_dq_kernel(const BackwardParams& prm, dim3 grid, cudaStream_t s) {
  const size_t smem = BwdDqSmem<Tag, DMAX>::bytes(prm.dq_stages);
  auto kernel = fna_backward_dq_kernel<Tag, DMAX>;
  NATTEN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  kernel<<<grid, kBwdThreads, smem, s>>>(prm);
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

/// The main pass of the plan's family (mma.sync or wgmma).
template <class Tag>
void launch_main(const BackwardParams& prm, const BackwardPlan& plan, int extra, dim3 grid, cudaStream_t s) {
  const int tier = plan.tier;
  if (plan.arch == kBwdWgmmaArch) launch_backward_wgmma<Tag>(prm, tier, extra, grid, s);
  else if (tier == 32) launch_kv_kernel<Tag, 32, 64>(prm, extra, grid, s);
  else if (tier == 64) launch_kv_kernel<Tag, 64, 64>(prm, extra, grid, s);
  else launch_kv_kernel<Tag, 128, 32>(prm, extra, grid, s);
}

}  // namespace detail

template <class Tag>
void launch_backward_kernels(const BackwardParams& prm, const BackwardPlan& plan, const void* out, cudaStream_t s) {
  const NaProblem& p = prm.p;
  const int64_t rows = p.batch * p.tokens() * p.heads;
  constexpr int kBlock = 256;
  fna_backward_delta_kernel<Tag><<<detail::grid_1d(rows * kDeltaLanes, kBlock), kBlock, 0, s>>>(
      prm.d_out, out, const_cast<float*>(prm.delta), rows, (int)p.head_dim_v);
  NATTEN_CUDA_CHECK(cudaGetLastError());
  if (prm.dq_acc) NATTEN_CUDA_CHECK(cudaMemsetAsync(prm.dq_acc, 0, plan.dq_acc_bytes, s));

  const dim3 kv_grid((unsigned)grid_slots(p, prm.kv_tile), (unsigned)p.heads_kv, (unsigned)p.batch);
  detail::launch_main<Tag>(prm, plan, 0, kv_grid, s);

  if (p.n_extra > 0) {
    const int kv_rows = backward_main_kv_rows(plan);
    const int64_t tiles = (p.n_extra + kv_rows - 1) / kv_rows;
    const dim3 grid((unsigned)(tiles * prm.extra_splits), (unsigned)p.heads_kv, (unsigned)p.batch);
    detail::launch_main<Tag>(prm, plan, 1, grid, s);
    const int64_t nk = p.batch * p.n_extra * p.heads_kv * p.head_dim;
    const int64_t nv = p.batch * p.n_extra * p.heads_kv * p.head_dim_v;
    fna_backward_split_reduce_kernel<Tag>
        <<<detail::grid_1d(nk, kBlock), kBlock, 0, s>>>(prm.dk_extra_part, prm.dk_extra_out, prm.extra_splits, nk);
    NATTEN_CUDA_CHECK(cudaGetLastError());
    fna_backward_split_reduce_kernel<Tag>
        <<<detail::grid_1d(nv, kBlock), kBlock, 0, s>>>(prm.dv_extra_part, prm.dv_extra_out, prm.extra_splits, nv);
    NATTEN_CUDA_CHECK(cudaGetLastError());
  }

  if (prm.dq_acc) {
    const int64_t n = rows * p.head_dim;
    fna_backward_dq_convert_kernel<Tag><<<detail::grid_1d(n, kBlock), kBlock, 0, s>>>(prm.dq_acc, prm.dq, prm.scale, n);
    NATTEN_CUDA_CHECK(cudaGetLastError());
  } else {
    // The dQ kernel's Q and KV tiles are one 64-row shape: the mma main kernel's KV tile, or the wgmma
    // main kernel's Q tile (its KV tile has 128 rows).
    BackwardParams dq = prm;
    if (plan.arch == kBwdWgmmaArch)
      for (int a = 0; a < kMaxDims; ++a) dq.kv_tile[a] = prm.q_tile[a];
    const dim3 grid((unsigned)grid_slots(p, dq.kv_tile), (unsigned)p.heads, (unsigned)p.batch);
    if (plan.tier == 32) detail::launch_dq_kernel<Tag, 32>(dq, grid, s);
    else if (plan.tier == 64) detail::launch_dq_kernel<Tag, 64>(dq, grid, s);
    else detail::launch_dq_kernel<Tag, 128>(dq, grid, s);
  }
}

}  // namespace natten::fused
