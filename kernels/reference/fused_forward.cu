// Reference fused-NA forward: one warp per (batch, query token, head) row. The warp walks the query's
// window keys and then the additional keys with an online softmax (running max m, running sum l), the
// lanes splitting the head dimension. Writes O = sum softmax(scale * q.k) v and LSE = m + log(l).
#include "../runtime/cuda_check.h"
#include "../runtime/launch_util.h"
#include "../runtime/warp_rows.cuh"
#include "reference.h"

namespace natten::reference {
namespace {

constexpr int kWarps = 4;

/// Online-softmax state of one row over one chunk of output columns.
struct OnlineRow {
  float m = -INFINITY;
  float l = 0.f;
  float acc[kLaneRegs] = {};

  /// Adds key with scaled score s and value row vrow (columns c0 + lane + 32 * i).
  template <typename T>
  __device__ __forceinline__ void add(float s, const T* vrow, int64_t c0, int64_t dv, int lane) {
    const float m_new = fmaxf(m, s);
    const float corr = expf(m - m_new);  // 0 on the first key (m = -inf)
    const float e = expf(s - m_new);
    l = l * corr + e;
#pragma unroll
    for (int i = 0; i < kLaneRegs; ++i) {
      const int64_t c = c0 + lane + kWarpSize * i;
      acc[i] = acc[i] * corr + (c < dv ? e * ld(vrow + c) : 0.f);
    }
    m = m_new;
  }
};

template <typename T>
__global__ void forward_kernel(const __grid_constant__ NaProblem p, const T* q, const T* k, const T* v, const T* ek,
                               const T* ev, T* out, float* lse) {
  WarpRow r;
  if (!locate_warp_row<kWarps>(p, p.heads, r)) return;
  const int64_t row = r.row, d = p.head_dim, dv = p.head_dim_v;
  const int lane = r.lane;
  const QueryWindow w(p, r.x);
  const T* qrow = q + row * d;
  LaneRow qr;
  qr.load(qrow, d, lane);

  for (int64_t c0 = 0; c0 < dv; c0 += kChunk) {
    OnlineRow o;
    visit_keys(
        p, w, r.b, p.kv_head(r.head),
        [&](int64_t kv) { o.add(p.scale * warp_dot(qr, qrow, k + kv * d, d, lane), v + kv * dv, c0, dv, lane); },
        [&](int64_t kv) { o.add(p.scale * warp_dot(qr, qrow, ek + kv * d, d, lane), ev + kv * dv, c0, dv, lane); });
    const float inv = 1.f / o.l;
#pragma unroll
    for (int i = 0; i < kLaneRegs; ++i) {
      const int64_t c = c0 + lane + kWarpSize * i;
      if (c < dv) st(out + row * dv + c, o.acc[i] * inv);
    }
    if (c0 == 0 && lane == 0 && lse) lse[row] = o.m + logf(o.l);
  }
}

}  // namespace

void launch_forward(cudaStream_t stream, const NaProblem& p, DType t, const FusedForwardArgs& a) {
  const int64_t rows = p.batch * p.tokens() * p.heads;
  if (rows == 0) return;
  cuda::dispatch_dtype(t, "na_forward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const unsigned blocks = cuda::grid_for(rows, kWarps, "na_forward");
    forward_kernel<T><<<blocks, kWarps * kWarpSize, 0, stream>>>(
        p, static_cast<const T*>(a.q), static_cast<const T*>(a.k), static_cast<const T*>(a.v),
        static_cast<const T*>(a.extra_k), static_cast<const T*>(a.extra_v), static_cast<T*>(a.out), a.lse);
    NATTEN_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace natten::reference
