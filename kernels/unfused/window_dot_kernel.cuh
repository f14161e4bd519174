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
#include "../reference/element.cuh"
#include "plan_util.h"
#include "unfused.h"

namespace natten::unfused::dot_kernel {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kPq = 4;   // queries per item (consecutive on the last axis)
constexpr int kPu = 8;   // keys per item
constexpr int kDc = 32;  // channels staged per pass (one per lane)

struct DotPlan {
  TileGrid grid;        // inner = window blocks
  WindowBlocks blocks;
  int rows = 1;         // nominal block extent on axes 0 and 1 (block rows)
  int chunks = 1;       // items per (query group, block row): they cover the group's band of keys
  int qgroups = 1;      // query groups per tile
  int key_row = 1;      // staged key-union row length (last axis), padded so lanes of a warp hit distinct banks
  int key_chan = 1;     // floats per staged channel of the key union
  int query_chan = 1;   // floats per staged channel of the query tile
  int smem = 0;         // bytes
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
  for (int a = 0; a < 3; ++a) {
    ext[a] = block_extent(p, wb, a);
    u[a] = union_bound(p, a, 1 << plan.grid.tile_log2[a], ext[a]);
  }
  const int tile = 1 << (l0 + l1 + l2);
  plan.rows = ext[0] * ext[1];
  plan.chunks = (int)ceil_div(kPq + p.stride[2] - 2 + ext[2], kPu);
  plan.qgroups = tile / kPq;
  if ((int64_t)plan.qgroups * plan.rows * plan.chunks > kThreads) return false;
  plan.key_row = pad_to_residue(u[2], plan.chunks);
  plan.key_chan = (u[0] * u[1] * plan.key_row) | 1;  // odd: staging lanes (channels) hit distinct banks
  plan.query_chan = tile + 4;
  const int64_t staging = (int64_t)kDc * (plan.key_chan + plan.query_chan) * 4;
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
  const double staged = (double)plan.query_chan + (double)plan.key_chan;
  const double per_cta = passes * (busy * kDc * (kPq * kPu + kPu + 2) + staged * kDc * 10) + busy * kPq * kPu * 12 +
                         (double)tile * plan.rows * block_extent(p, plan.blocks, 2) * 6 + 2000;
  return per_cta * (double)plan.grid.ctas;
}

/// The cheapest plan within `smem_limit` bytes of shared memory; false if none fits.
bool choose_plan_within(const NaProblem& p, int64_t channels, int smem_limit, DotPlan& best) {
  double best_cost = 0;
  bool found = false;
  for (int total = 2; total <= 10; ++total) {
    for_each_tile_shape(p, total, 2, [&](int l0, int l1, int l2) {
      for (int split = 0; split < 3; ++split) {
        if (split < 2 && p.kernel[split] == 1) continue;
        int outer = 1;
        for (int a = 0; a < split; ++a) outer *= p.kernel[a];
        // Largest block on the split axis that fits (fewest blocks).
        for (int per_axis = 1; per_axis <= p.kernel[split]; ++per_axis) {
          const int block = (int)ceil_div(p.kernel[split], per_axis);
          if (ceil_div(p.kernel[split], block) != per_axis) continue;
          WindowBlocks wb{split, block, per_axis, outer * per_axis};
          DotPlan plan;
          if (!make_plan(p, l0, l1, l2, wb, smem_limit, plan)) continue;
          const double cost = plan_cost(p, channels, plan);
          if (!found || cost < best_cost) {
            best = plan;
            best_cost = cost;
            found = true;
          }
          break;
        }
      }
    });
  }
  return found;
}

/// Prefers plans that let two CTAs share an SM; uses the whole opt-in limit only when none does.
DotPlan choose_plan(const NaProblem& p, int64_t channels, int smem_optin, int smem_target) {
  DotPlan plan;
  if (choose_plan_within(p, channels, smem_target, plan) || choose_plan_within(p, channels, smem_optin, plan)) return plan;
  throw Error(ErrorKind::Range, "ERR_NATTEN_UNSUPPORTED",
              "unfused NA: no tile configuration fits this problem in shared memory (stride too large?)");
}

/// Stages channels [c0, c0 + kDc) of the token rows of a box (group-local origin o, extents n; rows are
/// numbered (i0 * n1 + i1) * row_len + i2) as dst[channel * chan + row]. Rows with i_a >= valid[a] do
/// not exist and are staged as zeros.
template <typename T>
__device__ __forceinline__ void stage_box(float* dst, int chan, int row_len, const NaProblem& p, const int g[3],
                                          const int o[3], const int n[3], const int valid[3], const T* src,
                                          int64_t channels, int64_t c0) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int rows = n[0] * n[1] * n[2];
  const bool live = c0 + lane < channels;
  for (int r = warp; r < rows; r += kWarps) {
    const int i2 = r % n[2];
    const int i01 = r / n[2];
    const int i1 = i01 % n[1], i0 = i01 / n[1];
    float v = 0.f;
    if (live && i0 < valid[0] && i1 < valid[1] && i2 < valid[2])
      v = cuda::ld(src + local_token(p, g, o[0] + i0, o[1] + i1, o[2] + i2) * channels + c0 + lane);
    dst[lane * chan + i01 * row_len + i2] = v;
  }
}

/// A thread's item: kPq consecutive queries on the last axis (tile-local q2 .. q2 + nv - 1 at leading
/// tile coordinates q0, q1), block row (r0, r1) and key chunk ch, with what the kernel needs of them.
struct Item {
  bool active;
  bool lead_masked;  // the block row lies outside a causal window on axis 0 or 1
  int ch, r0, r1, q2, nv;
  int key_row;       // staged union row (axes 0 and 1) of the block row
  int qoff;          // staged tile index of the first query
  int rpb0, rpb1;    // relative-position-bias offsets on axes 0 and 1
  int rel;           // window start of the first query on the last axis, relative to the tile's
};

__device__ __forceinline__ Item decode_item(const NaProblem& p, const DotPlan& plan, const CtaTile& ct, const int pb[3],
                                            const int pe[3], const int sf[3], const int u0[3], const int un[3]) {
  const int tid = threadIdx.x;
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
  it.active = tid < items && pb[0] + it.r0 < pe[0] && pb[1] + it.r1 < pe[1] && ql0 < ct.count[0] &&
              ql1 < ct.count[1] && it.nv > 0;
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
                      T* __restrict__ attn, int64_t cols) {
  extern __shared__ float4 smem4[];
  float* const smem = reinterpret_cast<float*>(smem4);
  const CtaTile ct = locate_cta(p, plan.grid);
  if (ct.empty) return;
  const int tid = threadIdx.x;
  const int l0 = plan.grid.tile_log2[0], l1 = plan.grid.tile_log2[1], l2 = plan.grid.tile_log2[2];
  const int64_t x_base = ct.bh * p.tokens();

  // Window block, and the union of keys it reaches from the tile (per axis, group-local).
  int pb[3], pe[3], sf[3], u0[3], un[3];
  block_range(p, plan.blocks, ct.inner, pb, pe);
#pragma unroll
  for (int a = 0; a < 3; ++a) {
    sf[a] = cuda::group_window(p, a, ct.group[a], ct.first[a]).start;
    const int sl = cuda::group_window(p, a, ct.group[a], ct.first[a] + ct.count[a] - 1).start;
    u0[a] = sf[a] + pb[a];
    un[a] = sl + pe[a] - u0[a];
  }

  const Item it = decode_item(p, plan, ct, pb, pe, sf, u0, un);
  float acc[kPq][kPu];
#pragma unroll
  for (int b = 0; b < kPq; ++b)
#pragma unroll
    for (int j = 0; j < kPu; ++j) acc[b][j] = 0.f;
  {
    // Keys of the item: union positions rel[0] + ch + chunks * j on the last axis (interleaved so the
    // lanes of a warp read consecutive keys).
    int koff[kPu];
#pragma unroll
    for (int j = 0; j < kPu; ++j)
      koff[j] = it.key_row * plan.key_row + min(it.rel + it.ch + plan.chunks * j, un[2] - 1);
    float* const qs = smem;
    float* const ks = smem + kDc * plan.query_chan;
    const int tn[3] = {1 << l0, 1 << l1, 1 << l2};
    for (int64_t c0 = 0; c0 < channels; c0 += kDc) {
      __syncthreads();
      stage_box(qs, plan.query_chan, tn[2], p, ct.group, ct.first, tn, ct.count, x + x_base * channels, channels, c0);
      stage_box(ks, plan.key_chan, plan.key_row, p, ct.group, u0, un, un, y + x_base * channels, channels, c0);
      __syncthreads();
#pragma unroll 4
      for (int c = 0; c < kDc; ++c) {
        const float4 qv = *reinterpret_cast<const float4*>(qs + c * plan.query_chan + it.qoff);
        const float* kc = ks + c * plan.key_chan;
        float kv[kPu];
#pragma unroll
        for (int j = 0; j < kPu; ++j) kv[j] = kc[koff[j]];
#pragma unroll
        for (int j = 0; j < kPu; ++j) {
          acc[0][j] += qv.x * kv[j];
          acc[1][j] += qv.y * kv[j];
          acc[2][j] += qv.z * kv[j];
          acc[3][j] += qv.w * kv[j];
        }
      }
    }
  }
  __syncthreads();

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
          v += cuda::ld(rpb + ((h * (2 * p.kernel[0] - 1) + it.rpb0) * (2 * p.kernel[1] - 1) + it.rpb1) *
                                  (2 * p.kernel[2] - 1) + o2);
        }
        os[(it.qoff + b) * block_len + row_base + pp] = v;
      }
    }
  }
  __syncthreads();

  // Each query's block of weights is one contiguous run of its attention row.
  const int warp = tid / 32, lane = tid % 32;
  const int64_t wbase = block_base(p, pb);
  for (int q = warp; q < (1 << (l0 + l1 + l2)); q += kWarps) {
    const int i2 = q & ((1 << l2) - 1), i1 = (q >> l2) & ((1 << l1) - 1), i0 = q >> (l1 + l2);
    if (i0 >= ct.count[0] || i1 >= ct.count[1] || i2 >= ct.count[2]) continue;
    const int64_t tok = local_token(p, ct.group, ct.first[0] + i0, ct.first[1] + i1, ct.first[2] + i2);
    T* dst = attn + (x_base + tok) * cols + wbase;
    const float* src = os + q * block_len;
    for (int i = lane; i < block_len; i += 32) cuda::st(dst + i, src[i]);
  }
}

}  // namespace natten::unfused::dot_kernel
