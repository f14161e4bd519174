// Host entry points of the unfused NA kernels (layout [B, H, ...spatial, C], attention weights
// [B, H, ...spatial, prod(kernel) + n_extra] with window positions in row-major kernel order). Each one
// enqueues its kernels on `stream` and returns at once. `p` must be the three-axis view (cuda::as_3d);
// its `heads` and `batch` give the B * H rows, its window parameters the neighbourhood.
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>

#include "../common/dtype.h"
#include "../common/problem.h"

namespace natten::unfused {

/// Limits of the device a launcher plans for.
struct DeviceLimits {
  int smem_optin = 48 * 1024;  // bytes of shared memory one CTA may use
};

/// attn[q, w] = x[q] . y[key(q, w)] (+ rpb) for the window columns w < prod(kernel); `mask_value` at
/// positions outside a causal window. x, y: [B*H, N, channels]; attn rows are `cols` wide.
void window_dot(cudaStream_t s, const DeviceLimits& dev, const NaProblem& p, DType t, int64_t channels, const void* x,
                const void* y, const void* rpb, float mask_value, void* attn, int64_t cols);

/// out[q] = sum over window columns w of attn[q, w] * x[key(q, w)] (+ sum_e attn[q, K + e] * extra[e]).
/// Weights at masked (causal) positions are ignored whatever their value.
void window_reduce(cudaStream_t s, const DeviceLimits& dev, const NaProblem& p, DType t, int64_t channels,
                   const void* attn, int64_t cols, const void* x, const void* extra, void* out);

/// out[j] = sum over the queries q whose window holds key j of attn[q, position of j] * x[q].
void window_reduce_inverse(cudaStream_t s, const DeviceLimits& dev, const NaProblem& p, DType t, int64_t channels,
                           const void* attn, int64_t cols, const void* x, void* out);

/// attn[q, K + e] = x[q] . extra[e] for the n_extra additional columns.
void extra_dot(cudaStream_t s, const NaProblem& p, DType t, int64_t channels, const void* x, const void* extra,
               void* attn, int64_t cols);

/// out[e] = sum over all queries q of attn[q, K + e] * x[q]  (out: [B*H, n_extra, channels]).
void extra_reduce(cudaStream_t s, const NaProblem& p, DType t, int64_t channels, const void* attn, int64_t cols,
                  const void* x, void* out);

/// d_rpb[h, ...] = sum over batch and queries of d_attn at the window positions with that relative
/// offset. `scratch` is fp32, H * prod(2k - 1) elements; it is zeroed here.
void rpb_grad(cudaStream_t s, const DeviceLimits& dev, const NaProblem& p, DType t, const void* d_attn, int64_t cols,
              float* scratch, void* d_rpb);

/// y = softmax(x) over rows of `cols` (-inf -> 0; an all -inf row -> zeros).
void softmax(cudaStream_t s, DType t, const void* x, void* y, int64_t rows, int64_t cols);
/// dx = y * (dy - sum(dy * y)), 0 where y == 0.
void softmax_backward(cudaStream_t s, DType t, const void* dy, const void* y, void* dx, int64_t rows, int64_t cols);

/// Number of fp32 elements of rpb_grad's scratch.
int64_t rpb_grad_scratch(const NaProblem& p);

}  // namespace natten::unfused
