// window_dot: attn[q, w] = x[q] . y[key(q, w)] over the window positions w (unfused QK, and dAttn = dO . V
// in the AV backward).
//
// A CTA owns a tile of neighbouring queries and a block of window positions. For each 32-channel chunk it
// stages the tile's query rows and the union of the keys their block positions reach in shared memory
// (fp32). A thread owns an "item": kPq consecutive queries along the last axis, one block row (fixed
// positions on axes 0 and 1) and kPu keys of that row; it computes the kPq x kPu dot products of that
// small dense product (register reuse of both operands) and keeps the pairs that are window positions.
// Items of one query group cover its band of keys exactly once, so every output is written once. The
// results go through shared memory so each query's block of weights is written as one contiguous run.
// Kernel and tile planner (host); the launcher is in window_dot.cu.
#pragma once
#include "../runtime/element.cuh"
#include "plan_util.h"
#include "stage_rows.cuh"
#include "unfused.h"

namespace natten::unfused::dot_kernel {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kPq = 4;   // queries per item (consecutive on the last axis)
constexpr int kPu = 8;   // keys per item
constexpr int kDc = 32;  // channels staged per pass
constexpr int kDcLog2 = 5;
constexpr int kRow = kDc + 4;  // floats per staged row: 16-byte aligned, 4 banks apart

struct DotPlan {
  TileGrid grid;  // inner = window blocks
  WindowBlocks blocks;
  int rows = 1;        // nominal block extent on axes 0 and 1 (block rows)
  int chunks = 1;      // items per (query group, block row): they cover the group's band of keys
  int qgroups = 1;     // query groups per tile
  int key_row = 1;     // staged key-union row length (last axis), padded so lanes of a warp hit distinct banks
  int key_offset = 0;  // float offset of the staged key union (after the query tile)
  int smem = 0;        // bytes
};

/// Rounds n up to the next value congruent to r modulo 32.
inline int pad_to_residue(int n, int r) { return n + (((r - n) % 32) + 32) % 32; }

/// Fills a plan for one tile shape and window blocking; false if it does not fit one CTA.
bool make_plan(const NaProblem& p, int l0, int l1, int l2, const WindowBlocks& wb, int smem_limit, DotPlan& plan) {
  plan.grid.tile_log2[0] = l0;
  plan.grid.tile_log2[1] = l1;
  plan.grid.tile_log2[2] = l2;
  plan.blocks = wb;
  plan.grid.inner = wb.count;
  int ext[3], u[3];
  block_extents(p, wb, plan.grid.tile_log2, ext, u);
  const int tile = 1 << (l0 + l1 + l2);
  plan.rows = ext[0] * ext[1];
  plan.chunks = (int)ceil_div(kPq + p.stride[2] - 2 + ext[2], kPu);
  plan.qgroups = tile / kPq;
  if ((int64_t)plan.qgroups * plan.rows * plan.chunks > kThreads) return false;
  plan.key_row = pad_to_residue(u[2], plan.chunks);
  plan.key_offset = tile * kRow;
  const int64_t staging = ((int64_t)tile + (int64_t)u[0] * u[1] * plan.key_row) * kRow * 4;
  const int64_t results = (int64_t)tile * ext[0] * ext[1] * ext[2] * 4;
  const int64_t smem = staging > results ? staging : results;
  if (smem > smem_limit) return false;
  plan.smem = (int)smem;
  finish_grid(p, plan.grid);
  return true;
}

/// Rough cost (thread instructions) of running the whole problem with a plan.
double plan_cost(const NaProblem& p, int64_t channels, const DotPlan& plan) {
  const int tile = 1 << (plan.grid.tile_log2[0] + plan.grid.tile_log2[1] + plan.grid.tile_log2[2]);
  const int64_t items = (int64_t)plan.qgroups * plan.rows * plan.chunks;
  const double busy = (double)ceil_div(items, 32) * 32;
  const double passes = (double)ceil_div(channels, kDc);
  const double staged = (double)tile + (double)(plan.smem / 4 / kRow - tile);
  const double per_cta = passes * (busy * kDc * (kPq * kPu + 3) + staged * kDc * 2) + busy * kPq * kPu * 12 +
                         (double)tile * plan.rows * block_extent(p, plan.blocks, 2) * 6 + 2000;
  return per_cta * (double)plan.grid.ctas;
}

/// The cheapest plan within `smem_limit` bytes of shared memory; false if none fits.
bool choose_plan_within(const NaProblem& p, int64_t channels, int smem_limit, DotPlan& best) {
  CheapestPlan<DotPlan> cheapest{best};
  for (int total = 2; total <= 10; ++total) {
    for_each_tile_shape(p, total, 2, [&](int l0, int l1, int l2) {
      for_each_window_blocking(p, [&](const WindowBlocks& wb) {
        DotPlan plan;
        if (!make_plan(p, l0, l1, l2, wb, smem_limit, plan)) return false;
        cheapest.offer(plan, plan_cost(p, channels, plan));
        return true;
      });
    });
  }
  return cheapest.found;
}

/// Prefers plans that let two CTAs share an SM; uses the whole opt-in limit only when none does.
DotPlan choose_plan(const NaProblem& p, int64_t channels, int smem_optin, int smem_target) {
  return choose_within_smem<DotPlan>(
      smem_optin, smem_target,
      "unfused NA: no tile configuration fits this problem in shared memory (stride too large?)",
      [&](int limit, DotPlan& plan) { return choose_plan_within(p, channels, limit, plan); });
}

/// A thread's item: kPq consecutive queries on the last axis (tile-local q2 .. q2 + nv - 1 at leading
/// tile coordinates q0, q1), block row (r0, r1) and key chunk ch, with what the kernel needs of them.
struct Item {
  bool active;
  bool lead_masked;  // the block row lies outside a causal window on axis 0 or 1
  int ch, r0, r1, q2, nv;
  int key_row;     // staged union row (axes 0 and 1) of the block row
  int qoff;        // staged tile index of the first query
  int rpb0, rpb1;  // relative-position-bias offsets on axes 0 and 1
  int rel;         // window start of the first query on the last axis, relative to the tile's
};

/// A CTA's tile, window block and the key union that block reaches (per axis, group-local).
struct DotCta {
  CtaTile ct;
  int pb[3], pe[3];  // window block [pb, pe)
  int sf[3];         // window start of the tile's first query
  int u0[3], un[3];  // key union [u0, u0 + un)
};

__device__ __forceinline__ DotCta dot_cta(const NaProblem& p, const DotPlan& plan, unsigned cta) {
  DotCta g;
  g.ct = locate_cta(p, plan.grid, cta);
  block_range(p, plan.blocks, g.ct.inner, g.pb, g.pe);
#pragma unroll
  for (int a = 0; a < 3; ++a) {
    g.sf[a] = cuda::group_window(p, a, g.ct.group[a], g.ct.first[a]).start;
    const int sl = cuda::group_window(p, a, g.ct.group[a], g.ct.first[a] + g.ct.count[a] - 1).start;
    g.u0[a] = g.sf[a] + g.pb[a];
    g.un[a] = sl + g.pe[a] - g.u0[a];
  }
  return g;
}

__device__ __forceinline__ Item decode_item(const NaProblem& p, const DotPlan& plan, const DotCta& g, int tid) {
  const CtaTile& ct = g.ct;
  const int* pb = g.pb;
  const int* pe = g.pe;
  const int* sf = g.sf;
  const int* u0 = g.u0;
  const int* un = g.un;
  const int l1 = plan.grid.tile_log2[1], l2 = plan.grid.tile_log2[2];
  const int items = plan.qgroups * plan.rows * plan.chunks;
  const int item = tid < items ? tid : 0;
  Item it;
  it.ch = item % plan.chunks;
  const int r = (item / plan.chunks) % plan.rows;
  const int qg = item / (plan.chunks * plan.rows);
  const int ext1 = block_extent(p, plan.blocks, 1);
  it.r0 = r / ext1;
  it.r1 = r % ext1;
  const int gl = qg & ((1 << (l2 - 2)) - 1);
  const int ql1 = (qg >> (l2 - 2)) & ((1 << l1) - 1);
  const int ql0 = qg >> (l2 - 2 + l1);
  it.q2 = gl * kPq;
  it.nv = min(kPq, ct.count[2] - it.q2);
  it.active = tid < items && pb[0] + it.r0 < pe[0] && pb[1] + it.r1 < pe[1] && ql0 < ct.count[0] && ql1 < ct.count[1] &&
              it.nv > 0;
  // Clamped coordinates keep idle threads' shared-memory reads in bounds.
  const int c0q = min(ql0, ct.count[0] - 1), c1q = min(ql1, ct.count[1] - 1);
  const int p0 = min(pb[0] + it.r0, pe[0] - 1), p1 = min(pb[1] + it.r1, pe[1] - 1);
  const Range w0 = cuda::group_window(p, 0, ct.group[0], ct.first[0] + c0q);
  const Range w1 = cuda::group_window(p, 1, ct.group[1], ct.first[1] + c1q);
  it.lead_masked = w0.start + p0 >= w0.end || w1.start + p1 >= w1.end;
  it.key_row = (w0.start + p0 - u0[0]) * un[1] + (w1.start + p1 - u0[1]);
  it.rpb0 = w0.start + p0 - (ct.first[0] + c0q) + p.kernel[0] - 1;
  it.rpb1 = w1.start + p1 - (ct.first[1] + c1q) + p.kernel[1] - 1;
  it.qoff = (((c0q << l1) | c1q) << l2) + it.q2;
  const int q2c = max(0, min(it.q2, ct.count[2] - 1));
  it.rel = cuda::group_window(p, 2, ct.group[2], ct.first[2] + q2c).start - sf[2];
  return it;
}

template <typename T>
__global__ void __launch_bounds__(kThreads, 2)
    window_dot_kernel(const __grid_constant__ NaProblem p, const __grid_constant__ DotPlan plan, int64_t channels,
                      const T* __restrict__ x, const T* __restrict__ y, const T* __restrict__ rpb, float mask_value,
                      T* __restrict__ attn, int64_t cols, bool vector_ok) {
  extern __shared__ float4 smem4[];
  float* const smem = reinterpret_cast<float*>(smem4);
  const DotCta g = dot_cta(p, plan, blockIdx.x);
  if (g.ct.empty) return;
  const int l0 = plan.grid.tile_log2[0], l1 = plan.grid.tile_log2[1], l2 = plan.grid.tile_log2[2];
  float acc[kPq][kPu];
#pragma unroll
  for (int b = 0; b < kPq; ++b)
#pragma unroll
    for (int j = 0; j < kPu; ++j) acc[b][j] = 0.f;
  {
    const CtaTile& ct = g.ct;
    const int* u0 = g.u0;
    const int* un = g.un;
    const Item it = decode_item(p, plan, g, threadIdx.x);
    // Keys of the item: union positions rel + ch + chunks * j on the last axis (interleaved so the
    // lanes of a warp read neighbouring keys, whose rows are 4 banks apart).
    int kofs[kPu];  // staged row offsets (floats) of the item's keys
#pragma unroll
    for (int j = 0; j < kPu; ++j)
      kofs[j] = plan.key_offset + (it.key_row * plan.key_row + min(it.rel + it.ch + plan.chunks * j, un[2] - 1)) * kRow;
    const int qofs = it.qoff * kRow;
    const int64_t x_base = ct.bh * p.tokens();
    const T* xs = x + x_base * channels;
    const T* ys = y + x_base * channels;
    const float inv2 = 1.f / un[2], inv1 = 1.f / un[1];
    for (int64_t c0 = 0; c0 < channels; c0 += kDc) {
      __syncthreads();
      // Query tile rows (tile-local index (i0 * T1 + i1) * T2 + i2).
      stage_box_rows(smem, kRow, 1 << (l0 + l1 + l2), kDcLog2, xs, channels, c0, vector_ok, p, ct.group, ct.first,
                     ct.count, l1, l2);
      // Key union rows, staged as row (i0 * un1 + i1) * key_row + i2.
      stage_key_union(smem + plan.key_offset, kRow, kDcLog2, ys, channels, c0, vector_ok, p, ct.group, u0, un,
                      plan.key_row, inv1, inv2);
      __syncthreads();
#pragma unroll
      for (int c = 0; c < kDc; c += 4) {
        float4 qv[kPq];
#pragma unroll
        for (int b = 0; b < kPq; ++b) qv[b] = *reinterpret_cast<const float4*>(smem + qofs + b * kRow + c);
          // Keys in two halves keep the live registers within the 2-CTAs-per-SM budget.
#pragma unroll
        for (int h = 0; h < kPu; h += kPu / 2) {
          float4 kv[kPu / 2];
#pragma unroll
          for (int j = 0; j < kPu / 2; ++j) kv[j] = *reinterpret_cast<const float4*>(smem + kofs[h + j] + c);
#pragma unroll
          for (int b = 0; b < kPq; ++b)
#pragma unroll
            for (int j = 0; j < kPu / 2; ++j)
              acc[b][h + j] += qv[b].x * kv[j].x + qv[b].y * kv[j].y + qv[b].z * kv[j].z + qv[b].w * kv[j].w;
        }
      }
    }
  }
  __syncthreads();

  // Re-derived rather than kept live across the loop above (register budget of two CTAs per SM).
  const DotCta e = dot_cta(p, plan, opaque(blockIdx.x));
  const Item it = decode_item(p, plan, e, (int)opaque(threadIdx.x));
  const CtaTile& ct = e.ct;
  const int* pb = e.pb;
  const int* pe = e.pe;
  const int* sf = e.sf;
  const int64_t x_base = ct.bh * p.tokens();
  const int tid = threadIdx.x;

  // Results into shared memory, [query of the tile][position of the block].
  const int bw[3] = {pe[0] - pb[0], pe[1] - pb[1], pe[2] - pb[2]};
  const int block_len = bw[0] * bw[1] * bw[2];
  float* const os = smem;
  if (it.active) {
    const int row_base = (it.r0 * bw[1] + it.r1) * bw[2];
    const int64_t h = ct.bh % p.heads;
#pragma unroll
    for (int b = 0; b < kPq; ++b) {
      if (b >= it.nv) break;
      const Range w2 = cuda::group_window(p, 2, ct.group[2], ct.first[2] + it.q2 + b);
      const int rel = w2.start - sf[2];
#pragma unroll
      for (int j = 0; j < kPu; ++j) {
        const int pp = it.rel + it.ch + plan.chunks * j - rel;
        if (pp < 0 || pp >= bw[2]) continue;
        const int p2 = pb[2] + pp;
        float v = acc[b][j];
        if (it.lead_masked || w2.start + p2 >= w2.end) {
          v = mask_value;
        } else if (rpb) {
          // Relative offset per axis (group-local): key - query + k - 1.
          const int o2 = w2.start + p2 - (ct.first[2] + it.q2 + b) + p.kernel[2] - 1;
          v += cuda::ld(
              rpb + ((h * (2 * p.kernel[0] - 1) + it.rpb0) * (2 * p.kernel[1] - 1) + it.rpb1) * (2 * p.kernel[2] - 1) +
              o2);
        }
        os[(it.qoff + b) * block_len + row_base + pp] = v;
      }
    }
  }
  __syncthreads();

  // Each query's block of weights is one contiguous run of its attention row.
  const int warp = tid / 32, lane = tid % 32;
  const int64_t wbase = block_base(p, pb);
  for_tile_rows_by_warp<kWarps>(p, ct, l0, l1, l2, warp, [&](int q, int64_t tok) {
    T* dst = attn + (x_base + tok) * cols + wbase;
    const float* src = os + q * block_len;
    for (int i = lane; i < block_len; i += 32) cuda::st(dst + i, src[i]);
  });
}

}  // namespace natten::unfused::dot_kernel
