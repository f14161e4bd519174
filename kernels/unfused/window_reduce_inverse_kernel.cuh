// window_reduce_inverse: out[j] = sum over the queries q whose window holds key j of attn[q, position of j
// in q's window] * x[q] (dK = dAttn^T Q in the QK backward, dV = Attn^T dO in the AV backward).
//
// A CTA owns a tile of neighbouring keys and a chunk of channels. The queries that see the tile form a box
// per axis (inverse windows are monotone, window.h); the CTA walks that box in blocks. Per block it stages
// the block's query rows (fp32 channels) and a dense [query][key of the tile] matrix of the weights,
// zero where the query does not see the key, so the inner loop is a plain small matrix product: a thread
// owns kPk consecutive keys on the last axis and kPc channels, and for each query in the part of the block
// its keys can see it loads 4 weights and 8 channels for 32 multiply-adds.
// Kernel and tile planner (host); the launcher is in window_reduce_inverse.cu.
#pragma once
#include "../runtime/element.cuh"
#include "plan_util.h"
#include "stage_rows.cuh"
#include "unfused.h"

namespace natten::unfused::inverse_kernel {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kPk = 4;  // keys per thread (consecutive on the last axis)
constexpr int kPc = 8;  // channels per thread

struct InversePlan {
  TileGrid grid;               // key tiles; inner = channel chunks
  int cg_log2 = 0;             // channel groups per CTA; the CTA covers kPc << cg_log2 channels
  int qb_log2[3] = {0, 0, 0};  // query-block extents (powers of two)
  int x_stride = 4;            // floats per staged query row (channels + 4 padding)
  int w_offset = 0;            // float offset of the staged weights
  int t_offset = 0;            // int offset of the window tables
  int smem = 0;
};

/// Most queries (group-local) that can see a tile of `tile` keys on axis a.
int inverse_bound(const NaProblem& p, int a, int tile) {
  const int u = tile + p.kernel[a] + 2 * p.stride[a];
  const int g = longest_group(p, a);
  return u < g ? u : g;
}

bool make_plan(const NaProblem& p, int64_t channels, int cg_log2, const int tl[3], const int ql[3], int smem_limit,
               InversePlan& plan) {
  for (int a = 0; a < 3; ++a) {
    plan.grid.tile_log2[a] = tl[a];
    plan.qb_log2[a] = ql[a];
  }
  plan.cg_log2 = cg_log2;
  const int cb = kPc << cg_log2;
  plan.grid.inner = (int)ceil_div(channels, cb);
  const int64_t tile = int64_t(1) << (tl[0] + tl[1] + tl[2]);
  const int64_t block = int64_t(1) << (ql[0] + ql[1] + ql[2]);
  plan.x_stride = cb + 4;
  plan.w_offset = (int)(block * plan.x_stride);
  plan.t_offset = (int)(plan.w_offset + block * tile);
  const int tables = 2 * ((1 << tl[0]) + (1 << tl[1]) + (1 << tl[2]) + (1 << ql[0]) + (1 << ql[1]) + (1 << ql[2]));
  const int64_t smem = ((int64_t)plan.t_offset + tables) * 4;
  if (smem > smem_limit) return false;
  plan.smem = (int)smem;
  finish_grid(p, plan.grid);
  return true;
}

double plan_cost(const NaProblem& p, const InversePlan& plan) {
  const int cb = kPc << plan.cg_log2;
  const double tile = double(1 << (plan.grid.tile_log2[0] + plan.grid.tile_log2[1] + plan.grid.tile_log2[2]));
  double blocks = 1, walk[3];
  int nb[3];
  for (int a = 0; a < 3; ++a) {
    const int span = inverse_bound(p, a, 1 << plan.grid.tile_log2[a]);
    nb[a] = (int)ceil_div(span, 1 << plan.qb_log2[a]);
    blocks *= nb[a];
    // Queries a thread walks on this axis: its keys' inverse range.
    const double w = a == 2 ? p.kernel[2] + kPk - 1 + p.stride[2] : p.kernel[a] + p.stride[a] - 1;
    walk[a] = w < span ? w : span;
  }
  const double block = double(1 << (plan.qb_log2[0] + plan.qb_log2[1] + plan.qb_log2[2]));
  // Staging per block (dense weights, query rows, window tables, barriers), then each thread's walk: its
  // query rows are revisited once per block on the last axis (loop overhead), each query costs a
  // 4 x 8 product.
  const double staging = blocks * (block * tile * 24 + block * cb * 4 + 3000);
  const double walking = kThreads * (walk[0] * walk[1] * (nb[2] + (nb[0] > 1 || nb[1] > 1 ? 1 : 0)) * 14 +
                                     walk[0] * walk[1] * walk[2] * (kPk * kPc + 6));
  return (staging + walking) * (double)plan.grid.ctas;
}

/// The cheapest plan within `smem_limit` bytes of shared memory; false if none fits.
bool choose_plan_within(const NaProblem& p, int64_t channels, int smem_limit, InversePlan& best) {
  int cg_log2 = ceil_log2(ceil_div(channels, kPc));
  if (cg_log2 > 3) cg_log2 = 3;
  const int tile_log2 = 10 - cg_log2;
  CheapestPlan<InversePlan> cheapest{best};
  for_each_tile_shape(p, tile_log2, 2, [&](int l0, int l1, int l2) {
    const int tl[3] = {l0, l1, l2};
    int cap[3];
    for (int a = 0; a < 3; ++a) cap[a] = ceil_log2(inverse_bound(p, a, 1 << tl[a]));
    for (int total = 4; total <= 8; ++total)
      for (int q2 = 0; q2 <= total && q2 <= cap[2]; ++q2)
        for (int q1 = 0; q1 + q2 <= total && q1 <= cap[1]; ++q1) {
          const int q0 = total - q1 - q2;
          if (q0 > cap[0]) continue;
          const int ql[3] = {q0, q1, q2};
          InversePlan plan;
          if (make_plan(p, channels, cg_log2, tl, ql, smem_limit, plan)) cheapest.offer(plan, plan_cost(p, plan));
        }
  });
  if (cheapest.found) return true;
  // Tiny problems: a block of one query always fits.
  const int tl[3] = {0, 0, tile_log2};
  const int ql[3] = {0, 0, 0};
  return make_plan(p, channels, cg_log2, tl, ql, smem_limit, best);
}

/// Prefers plans that let two CTAs share an SM; uses the whole opt-in limit only when none does.
InversePlan choose_plan(const NaProblem& p, int64_t channels, int smem_optin, int smem_target) {
  return choose_within_smem<InversePlan>(
      smem_optin, smem_target, "unfused NA backward: no tile configuration fits",
      [&](int limit, InversePlan& plan) { return choose_plan_within(p, channels, limit, plan); });
}

template <typename T>
__global__ void __launch_bounds__(kThreads, 2)
    window_reduce_inverse_kernel(const __grid_constant__ NaProblem p, const __grid_constant__ InversePlan plan,
                                 int64_t channels, const T* __restrict__ attn, int64_t cols, const T* __restrict__ x,
                                 T* __restrict__ out, bool vector_ok) {
  extern __shared__ float4 smem4[];
  float* const xs = reinterpret_cast<float*>(smem4);
  float* const ws = xs + plan.w_offset;
  int* const tables = reinterpret_cast<int*>(xs + plan.t_offset);
  const CtaTile ct = locate_cta(p, plan.grid, blockIdx.x);
  if (ct.empty) return;
  const int tid = threadIdx.x;
  const int l1 = plan.grid.tile_log2[1], l2 = plan.grid.tile_log2[2];
  const int tile_log2 = plan.grid.tile_log2[0] + l1 + l2;
  const int b1 = plan.qb_log2[1], b2 = plan.qb_log2[2];
  const int block_log2 = plan.qb_log2[0] + b1 + b2;
  const int cb = kPc << plan.cg_log2;
  const int64_t c_first = (int64_t)ct.inner * cb;
  const int64_t row0 = ct.bh * p.tokens();

  // Tables: inverse windows of the tile's keys (start/end per axis), then windows of the block's queries.
  int* inv_start[3];
  int* inv_end[3];
  int* win_start[3];
  int* win_end[3];
  {
    int* t = tables;
#pragma unroll
    for (int a = 0; a < 3; ++a) {
      inv_start[a] = t;
      inv_end[a] = t + (1 << plan.grid.tile_log2[a]);
      t += 2 << plan.grid.tile_log2[a];
    }
#pragma unroll
    for (int a = 0; a < 3; ++a) {
      win_start[a] = t;
      win_end[a] = t + (1 << plan.qb_log2[a]);
      t += 2 << plan.qb_log2[a];
    }
  }
#pragma unroll
  for (int a = 0; a < 3; ++a)
    for (int j = tid; j < ct.count[a]; j += kThreads) {
      const Range r = cuda::group_inverse_window(p, a, ct.group[a], ct.first[a] + j);
      inv_start[a][j] = r.start;
      inv_end[a][j] = r.end;
    }
  __syncthreads();
  int qlo[3], qhi[3];  // the queries that see any key of the tile (group-local), per axis
#pragma unroll
  for (int a = 0; a < 3; ++a) {
    qlo[a] = inv_start[a][0];
    qhi[a] = inv_end[a][ct.count[a] - 1];
  }

  // This thread: channel group cg, key group (k0, k1, k2 .. k2 + nv - 1) of the tile.
  const int cg = tid & ((1 << plan.cg_log2) - 1);
  const int kg = tid >> plan.cg_log2;
  const int k2 = (kg & ((1 << (l2 - 2)) - 1)) * kPk;
  const int k1 = (kg >> (l2 - 2)) & ((1 << l1) - 1);
  const int k0 = kg >> (l2 - 2 + l1);
  const int nv = min(kPk, ct.count[2] - k2);
  const bool active = k0 < ct.count[0] && k1 < ct.count[1] && nv > 0;
  const int koff = (((k0 << l1) | k1) << l2) + k2;
  // Queries the thread's keys see, per axis (empty for idle threads).
  int lo[3] = {1, 1, 1}, hi[3] = {0, 0, 0};
  if (active) {
    lo[0] = inv_start[0][k0];
    hi[0] = inv_end[0][k0];
    lo[1] = inv_start[1][k1];
    hi[1] = inv_end[1][k1];
    lo[2] = inv_start[2][k2];
    hi[2] = inv_end[2][k2 + nv - 1];
  }

  float acc[kPk][kPc];
#pragma unroll
  for (int b = 0; b < kPk; ++b)
#pragma unroll
    for (int c = 0; c < kPc; ++c) acc[b][c] = 0.f;

  const int nb0 = (int)ceil_div(max(0, qhi[0] - qlo[0]), 1 << plan.qb_log2[0]);
  const int nb1 = (int)ceil_div(max(0, qhi[1] - qlo[1]), 1 << b1);
  const int nb2 = (int)ceil_div(max(0, qhi[2] - qlo[2]), 1 << b2);
  const int block_mask1 = (1 << b1) - 1, block_mask2 = (1 << b2) - 1;
  const int tile_mask1 = (1 << l1) - 1, tile_mask2 = (1 << l2) - 1;
  for (int blk = 0; blk < nb0 * nb1 * nb2; ++blk) {
    int bf[3], bn[3];  // block's first query and number of queries, per axis
    bf[2] = qlo[2] + (blk % nb2 << b2);
    bf[1] = qlo[1] + ((blk / nb2) % nb1 << b1);
    bf[0] = qlo[0] + (blk / (nb1 * nb2) << plan.qb_log2[0]);
#pragma unroll
    for (int a = 0; a < 3; ++a) bn[a] = min(1 << plan.qb_log2[a], qhi[a] - bf[a]);
    __syncthreads();
#pragma unroll
    for (int a = 0; a < 3; ++a)
      for (int i = tid; i < bn[a]; i += kThreads) {
        const Range r = cuda::group_window(p, a, ct.group[a], bf[a] + i);
        win_start[a][i] = r.start;
        win_end[a][i] = r.end;
      }
    // Query rows of the block (channels of this CTA's chunk).
    stage_box_rows(xs, plan.x_stride, 1 << block_log2, 3 + plan.cg_log2, x + row0 * channels, channels, c_first,
                   vector_ok, p, ct.group, bf, bn, b1, b2);
    __syncthreads();  // window tables ready
    // Dense weights [query of the block][key of the tile]: attn[q, position of key] or 0.
    for (int idx = tid; idx < (1 << (block_log2 + tile_log2)); idx += kThreads) {
      const int j = idx & ((1 << tile_log2) - 1), q = idx >> tile_log2;
      const int j2 = j & tile_mask2, j1 = (j >> l2) & tile_mask1, j0 = j >> (l1 + l2);
      const int i2 = q & block_mask2, i1 = (q >> b2) & block_mask1, i0 = q >> (b1 + b2);
      float v = 0.f;
      if (i0 < bn[0] && i1 < bn[1] && i2 < bn[2] && j0 < ct.count[0] && j1 < ct.count[1] && j2 < ct.count[2]) {
        const int s0 = win_start[0][i0], s1 = win_start[1][i1], s2 = win_start[2][i2];
        const int p0 = ct.first[0] + j0 - s0, p1 = ct.first[1] + j1 - s1, p2 = ct.first[2] + j2 - s2;
        if (p0 >= 0 && p0 < win_end[0][i0] - s0 && p1 >= 0 && p1 < win_end[1][i1] - s1 && p2 >= 0 &&
            p2 < win_end[2][i2] - s2) {
          const int64_t qrow = row0 + local_token(p, ct.group, bf[0] + i0, bf[1] + i1, bf[2] + i2);
          v = cuda::ld(attn + qrow * cols + ((int64_t)p0 * p.kernel[1] + p1) * p.kernel[2] + p2);
        }
      }
      ws[idx] = v;
    }
    __syncthreads();
    // The part of the block this thread's keys see.
    const int e0 = min(hi[0], bf[0] + bn[0]), e1 = min(hi[1], bf[1] + bn[1]), e2 = min(hi[2], bf[2] + bn[2]);
    const int s2 = max(lo[2], bf[2]);
    for (int i0 = max(lo[0], bf[0]); i0 < e0; ++i0)
      for (int i1 = max(lo[1], bf[1]); i1 < e1; ++i1) {
        const int qrow = ((i0 - bf[0]) << b1 | (i1 - bf[1])) << b2;
        for (int i2 = s2; i2 < e2; ++i2) {
          const int q = qrow + i2 - bf[2];
          const float4 wv = *reinterpret_cast<const float4*>(ws + (q << tile_log2) + koff);
          const float4 xa = *reinterpret_cast<const float4*>(xs + q * plan.x_stride + cg * kPc);
          const float4 xb = *reinterpret_cast<const float4*>(xs + q * plan.x_stride + cg * kPc + 4);
          const float w[kPk] = {wv.x, wv.y, wv.z, wv.w};
#pragma unroll
          for (int b = 0; b < kPk; ++b) axpy8(acc[b], w[b], xa, xb);
        }
      }
  }
  if (!active) return;
  const int64_t c_mine = c_first + cg * kPc;
#pragma unroll
  for (int b = 0; b < kPk; ++b) {
    if (b >= nv) break;
    const int64_t row = row0 + local_token(p, ct.group, ct.first[0] + k0, ct.first[1] + k1, ct.first[2] + k2 + b);
#pragma unroll
    for (int c = 0; c < kPc; ++c)
      if (c_mine + c < channels) cuda::st(out + row * channels + c_mine + c, acc[b][c]);
  }
}

}  // namespace natten::unfused::inverse_kernel
