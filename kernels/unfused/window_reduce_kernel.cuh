// window_reduce: out[q] = sum over window positions w of attn[q, w] * x[key(q, w)], plus the additional
// columns (unfused AV, and dQ = dAttn . K in the QK backward).
//
// A CTA owns a tile of neighbouring queries and a chunk of channels, and walks the window in blocks. Per
// block it stages the tile's attention weights of that block and the union of the keys the block reaches
// (rows of channels, fp32) in shared memory. A thread owns kPq consecutive queries on the last axis and
// kPc channels; for each block row it walks the keys of the row that any of its queries sees, and each
// key row it loads serves all its queries (the weight is zero for a query whose window misses the key).
// Kernel and tile planner (host); the launcher is in window_reduce.cu.
#pragma once
#include "../runtime/element.cuh"
#include "plan_util.h"
#include "stage_rows.cuh"
#include "unfused.h"

namespace natten::unfused::reduce_kernel {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kPq = 4;  // queries per thread (consecutive on the last axis)
constexpr int kPc = 8;  // channels per thread

struct ReducePlan {
  TileGrid grid;        // inner = channel chunks
  WindowBlocks blocks;  // walked inside the CTA
  int cg_log2 = 0;      // channel groups per CTA; the CTA covers kPc << cg_log2 channels
  int key_row = 1;      // staged key-union row length (last axis)
  int x_stride = 4;     // floats per staged key (channels + 4 padding)
  int attn_offset = 0;  // float offset of the staged weights
  int smem = 0;
};

bool make_plan(const NaProblem& p, int64_t channels, int cg_log2, int l0, int l1, int l2, const WindowBlocks& wb,
               int smem_limit, ReducePlan& plan) {
  plan.grid.tile_log2[0] = l0;
  plan.grid.tile_log2[1] = l1;
  plan.grid.tile_log2[2] = l2;
  plan.blocks = wb;
  plan.cg_log2 = cg_log2;
  const int cb = kPc << cg_log2;
  plan.grid.inner = (int)ceil_div(channels, cb);
  int ext[3], u[3];
  block_extents(p, wb, plan.grid.tile_log2, ext, u);
  plan.key_row = u[2];
  plan.x_stride = cb + 4;
  plan.attn_offset = u[0] * u[1] * u[2] * plan.x_stride;
  const int64_t tile = int64_t(1) << (l0 + l1 + l2);
  const int64_t smem = ((int64_t)plan.attn_offset + tile * ext[0] * ext[1] * ext[2]) * 4;
  if (smem > smem_limit) return false;
  plan.smem = (int)smem;
  finish_grid(p, plan.grid);
  return true;
}

double plan_cost(const NaProblem& p, const ReducePlan& plan) {
  const int tile = 1 << (plan.grid.tile_log2[0] + plan.grid.tile_log2[1] + plan.grid.tile_log2[2]);
  const int cb = kPc << plan.cg_log2;
  int ext[3], u[3];
  block_extents(p, plan.blocks, plan.grid.tile_log2, ext, u);
  const double rows = (double)ext[0] * ext[1];
  const double steps = rows * (kPq + p.stride[2] - 2 + ext[2]);  // key rows walked per block and thread
  const double per_block = kThreads * steps * (kPq * kPc + 3 * kPq + 4) + (double)u[0] * u[1] * u[2] * cb * 4 +
                           (double)tile * ext[0] * ext[1] * ext[2] * 4 + 2000;
  return (per_block * plan.blocks.count + kThreads * 40.0) * (double)plan.grid.ctas;
}

/// The cheapest plan within `smem_limit` bytes of shared memory; false if none fits.
bool choose_plan_within(const NaProblem& p, int64_t channels, int smem_limit, ReducePlan& best) {
  // Channel groups: enough to cover the channels in one chunk, up to 8 (64 channels).
  int cg_log2 = ceil_log2(ceil_div(channels, kPc));
  if (cg_log2 > 3) cg_log2 = 3;
  const int tile_log2 = 10 - cg_log2;  // kThreads * kPq / 2^cg_log2 queries per tile
  CheapestPlan<ReducePlan> cheapest{best};
  for_each_tile_shape(p, tile_log2, 2, [&](int l0, int l1, int l2) {
    for_each_window_blocking(p, [&](const WindowBlocks& wb) {
      ReducePlan plan;
      if (!make_plan(p, channels, cg_log2, l0, l1, l2, wb, smem_limit, plan)) return false;
      cheapest.offer(plan, plan_cost(p, plan));
      return true;
    });
  });
  return cheapest.found;
}

/// Prefers plans that let two CTAs share an SM; uses the whole opt-in limit only when none does.
ReducePlan choose_plan(const NaProblem& p, int64_t channels, int smem_optin, int smem_target) {
  return choose_within_smem<ReducePlan>(
      smem_optin, smem_target,
      "unfused NA: no tile configuration fits this problem in shared memory (stride too large?)",
      [&](int limit, ReducePlan& plan) { return choose_plan_within(p, channels, limit, plan); });
}

template <typename T>
__global__ void __launch_bounds__(kThreads, 2)
    window_reduce_kernel(const __grid_constant__ NaProblem p, const __grid_constant__ ReducePlan plan, int64_t channels,
                         const T* __restrict__ attn, int64_t cols, const T* __restrict__ x, const T* __restrict__ extra,
                         T* __restrict__ out, bool vector_ok) {
  extern __shared__ float4 smem4[];
  float* const xs = reinterpret_cast<float*>(smem4);
  float* const as = xs + plan.attn_offset;
  const CtaTile ct = locate_cta(p, plan.grid, blockIdx.x);
  if (ct.empty) return;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int l0 = plan.grid.tile_log2[0], l1 = plan.grid.tile_log2[1], l2 = plan.grid.tile_log2[2];
  const int cb = kPc << plan.cg_log2;
  const int64_t c_first = (int64_t)ct.inner * cb;
  const int64_t row0 = ct.bh * p.tokens();

  // This thread: channel group cg, query group (q0, q1, q2 .. q2 + nv - 1) of the tile.
  const int cg = tid & ((1 << plan.cg_log2) - 1);
  const int qg = tid >> plan.cg_log2;
  const int q2 = (qg & ((1 << (l2 - 2)) - 1)) * kPq;
  const int q1 = (qg >> (l2 - 2)) & ((1 << l1) - 1);
  const int q0 = qg >> (l2 - 2 + l1);
  const int nv = min(kPq, ct.count[2] - q2);
  const bool active = q0 < ct.count[0] && q1 < ct.count[1] && nv > 0;
  const int qoff = (((q0 << l1) | q1) << l2) + q2;
  const int c0q = min(q0, ct.count[0] - 1), c1q = min(q1, ct.count[1] - 1);
  const Range w0 = cuda::group_window(p, 0, ct.group[0], ct.first[0] + c0q);
  const Range w1 = cuda::group_window(p, 1, ct.group[1], ct.first[1] + c1q);
  int sf[3], sl[3];
#pragma unroll
  for (int a = 0; a < 3; ++a) {
    sf[a] = cuda::group_window(p, a, ct.group[a], ct.first[a]).start;
    sl[a] = cuda::group_window(p, a, ct.group[a], ct.first[a] + ct.count[a] - 1).start;
  }
  int rel[kPq], span[kPq];  // last-axis window start relative to the tile's, and window length
#pragma unroll
  for (int b = 0; b < kPq; ++b) {
    const Range w2 = cuda::group_window(p, 2, ct.group[2], ct.first[2] + max(0, min(q2 + b, ct.count[2] - 1)));
    rel[b] = w2.start - sf[2];
    span[b] = b < nv ? w2.end - w2.start : 0;
  }

  float acc[kPq][kPc];
#pragma unroll
  for (int b = 0; b < kPq; ++b)
#pragma unroll
    for (int c = 0; c < kPc; ++c) acc[b][c] = 0.f;

  for (int blk = 0; blk < plan.blocks.count; ++blk) {
    int pb[3], pe[3], u0[3], un[3];
    block_range(p, plan.blocks, blk, pb, pe);
#pragma unroll
    for (int a = 0; a < 3; ++a) {
      u0[a] = sf[a] + pb[a];
      un[a] = sl[a] + pe[a] - u0[a];
    }
    const int bw0 = pe[0] - pb[0], bw1 = pe[1] - pb[1], bw2 = pe[2] - pb[2];
    const int block_len = bw0 * bw1 * bw2;
    __syncthreads();
    // Stage the key union (channels of this CTA's chunk), as rows (i0 * un1 + i1) * key_row + i2.
    const float inv2 = 1.f / un[2], inv1 = 1.f / un[1];
    stage_key_union(xs, plan.x_stride, 3 + plan.cg_log2, x + row0 * channels, channels, c_first, vector_ok, p, ct.group,
                    u0, un, plan.key_row, inv1, inv2);
    // Stage the weights of the block: one query per warp iteration, one contiguous run of its row.
    const int64_t wbase = block_base(p, pb);
    for_tile_rows_by_warp<kWarps>(p, ct, l0, l1, l2, warp, [&](int q, int64_t tok) {
      const T* src = attn + (row0 + tok) * cols + wbase;
      for (int i = lane; i < block_len; i += 32) as[q * block_len + i] = cuda::ld(src + i);
    });
    __syncthreads();
    if (!active) continue;
    int hi[kPq];  // valid block positions on the last axis: pp in [0, hi)
#pragma unroll
    for (int b = 0; b < kPq; ++b) hi[b] = max(0, min(bw2, span[b] - pb[2]));
    int u_end = 0;  // past the last key any of the thread's queries sees in this block row
#pragma unroll
    for (int b = 0; b < kPq; ++b)
      if (b < nv) u_end = rel[b] + bw2;
    for (int r0 = 0; r0 < bw0; ++r0) {
      const int p0 = pb[0] + r0;
      if (w0.start + p0 >= w0.end) break;  // causal: the rest of the window is masked on axis 0
      for (int r1 = 0; r1 < bw1; ++r1) {
        const int p1 = pb[1] + r1;
        if (w1.start + p1 >= w1.end) break;
        const float* xrow =
            xs + ((w0.start + p0 - u0[0]) * un[1] + (w1.start + p1 - u0[1])) * plan.key_row * plan.x_stride + cg * kPc;
        const float* arow = as + qoff * block_len + (r0 * bw1 + r1) * bw2;
        for (int u = rel[0]; u < u_end; ++u) {
          const float4 xa = *reinterpret_cast<const float4*>(xrow + u * plan.x_stride);
          const float4 xb = *reinterpret_cast<const float4*>(xrow + u * plan.x_stride + 4);
#pragma unroll
          for (int b = 0; b < kPq; ++b) {
            const int pp = u - rel[b];
            const float wgt = (unsigned)pp < (unsigned)hi[b] ? arow[b * block_len + pp] : 0.f;
            axpy8(acc[b], wgt, xa, xb);
          }
        }
      }
    }
  }
  if (!active) return;

  const int64_t window = p.window_size();
  const int64_t c_mine = c_first + cg * kPc;
#pragma unroll
  for (int b = 0; b < kPq; ++b) {
    if (b >= nv) break;
    const int64_t row = row0 + local_token(p, ct.group, ct.first[0] + q0, ct.first[1] + q1, ct.first[2] + q2 + b);
    // Additional columns: every query also attends to the n_extra extra rows.
    for (int64_t e = 0; e < p.n_extra; ++e) {
      const float wgt = cuda::ld(attn + row * cols + window + e);
      const T* src = extra + (ct.bh * p.n_extra + e) * channels;
#pragma unroll
      for (int c = 0; c < kPc; ++c)
        if (c_mine + c < channels) acc[b][c] += wgt * cuda::ld(src + c_mine + c);
    }
#pragma unroll
    for (int c = 0; c < kPc; ++c)
      if (c_mine + c < channels) cuda::st(out + row * channels + c_mine + c, acc[b][c]);
  }
}

}  // namespace natten::unfused::reduce_kernel
