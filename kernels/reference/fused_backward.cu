// Reference fused-NA backward, gather form (no atomics, deterministic):
//   1. per query row (warp): delta = rowsum(dO * O), P = exp(scale * q.k - LSE), dP = dO.v,
//      dS = P * (dP - delta), dQ = scale * sum dS k over window and additional keys;
//   2. per window key row (warp): the queries that see the key come from the inverse window
//      (window.h), dV = sum P dO and dK = scale * sum dS q over those queries and the query heads
//      that share the KV head (GQA);
//   3. per additional key (CTA): the same sums over every query, split over warps and reduced in
//      shared memory.
#include "../runtime/cuda_check.h"
#include "../runtime/launch_util.h"
#include "../runtime/warp_rows.cuh"
#include "reference.h"

namespace natten::reference {
namespace {

constexpr int kWarps = 4;
constexpr int kExtraWarps = 8;

template <typename T>
struct BackwardPtrs {
  const T *q, *k, *v, *ek, *ev, *out, *d_out;
  const float* lse;
  T *dq, *dk, *dv, *dek, *dev;
  float* delta;
};

template <typename T>
BackwardPtrs<T> typed(const FusedBackwardArgs& a, float* delta) {
  return {static_cast<const T*>(a.q),
          static_cast<const T*>(a.k),
          static_cast<const T*>(a.v),
          static_cast<const T*>(a.extra_k),
          static_cast<const T*>(a.extra_v),
          static_cast<const T*>(a.out),
          static_cast<const T*>(a.d_out),
          a.lse,
          static_cast<T*>(a.dq),
          static_cast<T*>(a.dk),
          static_cast<T*>(a.dv),
          static_cast<T*>(a.d_extra_k),
          static_cast<T*>(a.d_extra_v),
          delta};
}

/// Softmax gradient terms of one (query row, key) pair.
struct PairGrad {
  float p;   // P = exp(scale * q.k - lse)
  float ds;  // dS = P * (dO.v - delta)
};

template <typename T>
__device__ __forceinline__ PairGrad pair_grad(const NaProblem& p, const LaneRow& a_regs, const T* a_row, const T* b_row,
                                              const LaneRow& c_regs, const T* c_row, const T* d_row, float lse,
                                              float delta, int lane) {
  const float s = p.scale * warp_dot(a_regs, a_row, b_row, p.head_dim, lane);
  const float pr = expf(s - lse);
  const float dp = warp_dot(c_regs, c_row, d_row, p.head_dim_v, lane);
  return {pr, pr * (dp - delta)};
}

template <typename T>
__global__ void __launch_bounds__(kWarps* kWarpSize)
    dq_kernel(const __grid_constant__ NaProblem p, const __grid_constant__ BackwardPtrs<T> t) {
  WarpRow r;
  if (!locate_warp_row<kWarps>(p, p.heads, r)) return;
  const int64_t row = r.row, d = p.head_dim, dv = p.head_dim_v;
  const int lane = r.lane;
  const QueryWindow w(p, r.x);

  const T* qrow = t.q + row * d;
  const T* dorow = t.d_out + row * dv;
  float delta = 0.f;
  for (int64_t c = lane; c < dv; c += kWarpSize) delta += ld(dorow + c) * ld(t.out + row * dv + c);
  delta = warp_sum(delta);
  if (lane == 0) t.delta[row] = delta;
  const float lse = t.lse[row];
  LaneRow qr, dor;
  qr.load(qrow, d, lane);
  dor.load(dorow, dv, lane);

  for (int64_t c0 = 0; c0 < d; c0 += kChunk) {
    float acc[kLaneRegs] = {};
    auto add = [&](const T* krow, const T* vrow) {
      const PairGrad g = pair_grad(p, qr, qrow, krow, dor, dorow, vrow, lse, delta, lane);
#pragma unroll
      for (int i = 0; i < kLaneRegs; ++i) {
        const int64_t c = c0 + lane + kWarpSize * i;
        if (c < d) acc[i] += g.ds * ld(krow + c);
      }
    };
    visit_keys(
        p, w, r.b, p.kv_head(r.head), [&](int64_t kv) { add(t.k + kv * d, t.v + kv * dv); },
        [&](int64_t kv) { add(t.ek + kv * d, t.ev + kv * dv); });
#pragma unroll
    for (int i = 0; i < kLaneRegs; ++i) {
      const int64_t c = c0 + lane + kWarpSize * i;
      if (c < d) st(t.dq + row * d + c, p.scale * acc[i]);
    }
  }
}

/// One key row and its value row (window or additional keys) with this lane's slices of them.
template <typename T>
struct KeyValueRow {
  const T* k;
  const T* v;
  LaneRow kr, vr;

  __device__ __forceinline__ KeyValueRow(const T* krow, const T* vrow, const NaProblem& p, int lane)
      : k(krow), v(vrow) {
    kr.load(k, p.head_dim, lane);
    vr.load(v, p.head_dim_v, lane);
  }
};

/// dK/dV accumulators of one key over one column chunk, fed by (query row, head) pairs.
template <typename T>
struct KeyGradAcc {
  float dk[kLaneRegs] = {};
  float dv[kLaneRegs] = {};

  __device__ __forceinline__ void add(const NaProblem& p, const BackwardPtrs<T>& t, const KeyValueRow<T>& key,
                                      int64_t qrow, int64_t c0, int lane) {
    const int64_t d = p.head_dim, dv_ = p.head_dim_v;
    const T* qr = t.q + qrow * d;
    const T* dor = t.d_out + qrow * dv_;
    const PairGrad g = pair_grad(p, key.kr, key.k, qr, key.vr, key.v, dor, t.lse[qrow], t.delta[qrow], lane);
#pragma unroll
    for (int i = 0; i < kLaneRegs; ++i) {
      const int64_t c = c0 + lane + kWarpSize * i;
      if (c < dv_) dv[i] += g.p * ld(dor + c);
      if (c < d) dk[i] += g.ds * ld(qr + c);
    }
  }
};

template <typename T>
__global__ void __launch_bounds__(kWarps* kWarpSize)
    dkdv_kernel(const __grid_constant__ NaProblem p, const __grid_constant__ BackwardPtrs<T> t) {
  const int64_t rows = p.batch * p.tokens() * p.heads_kv;
  const int64_t row = (int64_t)blockIdx.x * kWarps + threadIdx.x / kWarpSize;
  if (row >= rows) return;
  const int lane = threadIdx.x % kWarpSize;
  const int64_t n = p.tokens(), d = p.head_dim, dv = p.head_dim_v;
  const int64_t hk = row % p.heads_kv;
  const int64_t token = (row / p.heads_kv) % n;
  const int64_t b = row / (p.heads_kv * n);
  const int64_t group = p.heads / p.heads_kv;  // query heads hk * group .. hk * group + group - 1 read this head
  int x[3], g[3];
  Range inv[3];
  cuda::coords_of(p, token, x);
#pragma unroll
  for (int a = 0; a < 3; ++a) {
    g[a] = x[a] % p.dilation[a];
    inv[a] = cuda::group_inverse_window(p, a, g[a], x[a] / p.dilation[a]);
  }
  const KeyValueRow<T> key(t.k + row * d, t.v + row * dv, p, lane);
  const int64_t width = d > dv ? d : dv;

  for (int64_t c0 = 0; c0 < width; c0 += kChunk) {
    KeyGradAcc<T> acc;
    for (int i0 = inv[0].start; i0 < inv[0].end; ++i0)
      for (int i1 = inv[1].start; i1 < inv[1].end; ++i1)
        for (int i2 = inv[2].start; i2 < inv[2].end; ++i2) {
          const int64_t qt =
              cuda::token_of(p, i0 * p.dilation[0] + g[0], i1 * p.dilation[1] + g[1], i2 * p.dilation[2] + g[2]);
          for (int64_t hh = 0; hh < group; ++hh) acc.add(p, t, key, (b * n + qt) * p.heads + hk * group + hh, c0, lane);
        }
#pragma unroll
    for (int i = 0; i < kLaneRegs; ++i) {
      const int64_t c = c0 + lane + kWarpSize * i;
      if (c < d) st(t.dk + row * d + c, p.scale * acc.dk[i]);
      if (c < dv) st(t.dv + row * dv + c, acc.dv[i]);
    }
  }
}

/// One CTA per additional key row (b, e, hk): warps split the N * group query rows, then a shared-memory
/// reduction across warps.
template <typename T>
__global__ void __launch_bounds__(kExtraWarps* kWarpSize)
    extra_kernel(const __grid_constant__ NaProblem p, const __grid_constant__ BackwardPtrs<T> t) {
  __shared__ float red[kExtraWarps][2][kChunk];
  const int64_t row = blockIdx.x;  // (b * n_extra + e) * H_kv + hk
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int64_t n = p.tokens(), d = p.head_dim, dv = p.head_dim_v;
  const int64_t hk = row % p.heads_kv;
  const int64_t b = row / (p.heads_kv * p.n_extra);
  const int64_t group = p.heads / p.heads_kv;
  const KeyValueRow<T> key(t.ek + row * d, t.ev + row * dv, p, lane);
  const int64_t width = d > dv ? d : dv;

  for (int64_t c0 = 0; c0 < width; c0 += kChunk) {
    KeyGradAcc<T> acc;
    for (int64_t i = warp; i < n * group; i += kExtraWarps)
      acc.add(p, t, key, (b * n + i / group) * p.heads + hk * group + i % group, c0, lane);
#pragma unroll
    for (int i = 0; i < kLaneRegs; ++i) {
      red[warp][0][lane + kWarpSize * i] = acc.dk[i];
      red[warp][1][lane + kWarpSize * i] = acc.dv[i];
    }
    __syncthreads();
    for (int c = threadIdx.x; c < kChunk; c += blockDim.x) {
      float sk = 0.f, sv = 0.f;
      for (int w = 0; w < kExtraWarps; ++w) {
        sk += red[w][0][c];
        sv += red[w][1][c];
      }
      if (c0 + c < d) st(t.dek + row * d + c0 + c, p.scale * sk);
      if (c0 + c < dv) st(t.dev + row * dv + c0 + c, sv);
    }
    __syncthreads();
  }
}

}  // namespace

void launch_backward(cudaStream_t stream, const NaProblem& p, DType dt, const FusedBackwardArgs& a, float* delta) {
  const int64_t q_rows = p.batch * p.tokens() * p.heads;
  const int64_t kv_rows = p.batch * p.tokens() * p.heads_kv;
  if (q_rows == 0) return;
  cuda::dispatch_dtype(dt, "na_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const BackwardPtrs<T> t = typed<T>(a, delta);
    const int threads = kWarps * kWarpSize;
    dq_kernel<T><<<cuda::grid_for(q_rows, kWarps, "na_backward"), threads, 0, stream>>>(p, t);
    NATTEN_CUDA_CHECK(cudaGetLastError());
    dkdv_kernel<T><<<cuda::grid_for(kv_rows, kWarps, "na_backward"), threads, 0, stream>>>(p, t);
    NATTEN_CUDA_CHECK(cudaGetLastError());
    if (p.n_extra > 0) {
      extra_kernel<T>
          <<<cuda::grid_for(p.batch * p.n_extra * p.heads_kv, 1, "na_backward"), kExtraWarps * kWarpSize, 0, stream>>>(
              p, t);
      NATTEN_CUDA_CHECK(cudaGetLastError());
    }
  });
}

}  // namespace natten::reference
