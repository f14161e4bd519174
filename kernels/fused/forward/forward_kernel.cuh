// Fused neighborhood-attention forward on sm_80+ tensor cores (FlashAttention-2 style), fp16/bf16 with
// fp32 accumulation, 1-D/2-D/3-D, layout [B, ...spatial, H, D] (see kernels/common/problem.h).
//
// One CTA = one Q tile (QTile: e.g. 2-D 8x8) of one (batch, head) inside one dilation group per axis;
// one warp per 16-query micro tile (tile_shape.h). The CTA walks the KV tiles (KVTile) covering
// [start(first query), end(last query)) per axis (tile_window.h), then ceil(nExtra / |KVTile|) tiles of
// additional keys, through a two-stage cp.async pipeline into XOR-swizzled shared memory.
// Per KV tile each warp classifies every 16-key micro tile against its own 16 queries' windows:
//   outside all of them -> skipped (no MMA, no exp), wholly inside all -> no element mask, else masked.
// S = Q K^T (Q fragments held in registers for head-dim tiers <= 128, re-read from shared memory for
// 256), online softmax in base 2 with scale*log2(e) folded into one multiply, P re-packed from the S
// accumulators into A fragments, O += P V with ldmatrix.trans for V. O = acc / l, LSE = ln(sum exp).
//
// Arch 90 (sm_90a only): the same walk, masks and softmax, but the four warps (one warpgroup, 64 queries)
// compute whole 64-key tiles with wgmma: S = Q K^T with Q and K read by the tensor cores straight from
// shared memory (128-byte-swizzle layout, no ldmatrix), O += P V with P from registers and V from shared
// memory. There is no per-warp micro-tile skip: micro tiles outside a warp's windows are masked instead.
//
// Head dims: the kernel is compiled for a tier DT (32/64/128/256) and runs any D, Dv <= DT that are
// multiples of 8: chunks past D (Dv) are zero-filled by cp.async and never stored.
#pragma once
#include <cuda_runtime.h>
#include <math_constants.h>
#include <stdint.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "../../common/op_args.h"
#include "../../common/tile_shape.h"
#include "../../common/tile_window.h"
#include "../../runtime/sm80_mma.h"
#include "../../runtime/sm90_wgmma.h"
#include "online_softmax.cuh"

namespace natten::fused {

/// Kernel arguments (by value, in the parameter space).
struct ForwardParams {
  NaProblem p;
  FusedForwardArgs a;
  float scale_log2;  // |scale| * log2(e), at least 1e-30 (> 0: the max of raw scores is the max of scaled ones)
  int negate_q;      // scale < 0: the kernel negates its Q tile in shared memory once, so scale_log2 > 0
};

/// Sizes derived from a forward configuration.
template <class QTile, class KVTile, int DT, int Stages, int Arch>
struct ForwardTraits {
  /// Arch 90: warpgroup (wgmma) tensor-core path; 80: per-warp mma.sync path.
  static constexpr bool kWgmma = Arch >= 90;
  static constexpr int kWarps = QTile::kMicroCount;  // one warp per 16 queries
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kGroups = KVTile::kMicroCount;     // 16-key micro tiles per KV tile
  static constexpr int kChunks = DT / 8;                  // 16-byte chunks per row
  static constexpr bool kQInRegs = !kWgmma && DT <= 128;  // else Q fragments are re-read from smem
  static_assert(!kWgmma || (kWarps == 4 && KVTile::kSize == 64 && (DT == 64 || DT == 128)),
                "wgmma configs: 64 queries (one warpgroup), 64-key tiles, head-dim tiers 64 and 128");
  /// Shared-memory layouts of the Q and K/V tiles (the wgmma operands need the canonical swizzle).
  using QLayout = std::conditional_t<kWgmma, GmmaSwizzle<DT / 8, QTile::kSize>, RowSwizzle<DT / 8>>;
  using KVLayout = std::conditional_t<kWgmma, GmmaSwizzle<DT / 8, KVTile::kSize>, RowSwizzle<DT / 8>>;
  /// K/V pipeline depth. 2: K and V of tile t+1 load while tile t computes, two barriers per tile.
  /// 3: tile t+2 loads while tile t computes, one barrier per tile (more shared memory).
  static constexpr int kStages = Stages;
  static_assert(Stages == 2 || Stages == 3, "2 or 3 stages");
  /// Resident CTAs per SM that __launch_bounds__ asks ptxas to allow (caps registers at 64K / (threads x
  /// blocks)): more warps to hide latency where the small head-dim tiers leave registers to spare.
  /// (Values chosen from the -Xptxas -v report: the largest that leave no spills.)
  static constexpr int kMinBlocks = kWgmma        ? (DT == 64 ? 3 : 2)
                                    : kWarps == 4 ? (DT == 32   ? (QTile::kDims == 2 ? 4 : 3)
                                                     : DT == 64 ? 3
                                                                : 1)
                                                  : (DT == 32 && QTile::kDims != 3 ? 2 : 1);
  static constexpr int kQUnits = QTile::kSize * kChunks;  // 16-byte units
  static constexpr int kKVUnits = KVTile::kSize * kChunks;
  static constexpr size_t kSmemBytes = size_t(16) * (kQUnits + 2 * kStages * kKVUnits);
  static_assert(QTile::kDims == KVTile::kDims, "Q and KV tiles of the same dims");
  static_assert(kThreads % kChunks == 0, "whole rows per load pass");
};

namespace detail {

/// This lane's ldmatrix row addresses in a swizzled tile, precomputed so that the address of (16-row block
/// j, chunk pair kk) is a register plus a compile-time offset: with r = the lane's row inside the block and
/// c its chunk parity, swizzle(16 j + r, 2 kk + c) = swizzle(r, 2 (kk % M) + c) + 16 j Chunks + 8 (kk / M)
/// with M = 4 (XOR touches only the low three chunk bits) or M = 2 for 4-chunk rows.
template <int Chunks>
struct LaneOffsets {
  static constexpr int kM = Chunks >= 8 ? 4 : 2;
  uint32_t off[kM];  // bytes
  __device__ __forceinline__ LaneOffsets(int r, int c) {
#pragma unroll
    for (int m = 0; m < kM; ++m) off[m] = 16u * swizzle<Chunks>(r, 2 * m + c);
  }
  /// Byte offset of (block j, chunk pair kk); j and kk are compile-time after unrolling.
  __device__ __forceinline__ uint32_t at(int j, int kk) const {
    return off[kk % kM] + 16u * (16 * j * Chunks + 2 * kM * (kk / kM));
  }
};

/// Copies a spatial tile (Tile rows, Chunks 16-byte chunks per row) into swizzled shared memory.
/// Thread tid copies chunk tid % Chunks of rows r + n0 (n0 = 0, R, 2R, ... with R = Threads / Chunks,
/// r = tid / Chunks). Tile::coord is additive over the disjoint bits of n0 and r, so row r + n0 sits at
/// the thread's base row plus the compile-time offset coord(n0, a) per axis: the address is the base
/// row's pointer row0 plus sum_a coord(n0, a) * estride[a], and the row exists iff coord(n0, a) < lim[a]
/// on every axis (lim = rows left on that axis from the base row). Missing rows and chunks past
/// valid_chunks are zero-filled.
template <class Tile, int Chunks, int Threads, class Layout, class Elem>
__device__ __forceinline__ void load_spatial_tile(uint32_t dst, int tid, const Elem* base, const Elem* row0,
                                                  const int64_t (&estride)[3], const int (&lim)[3], int valid_chunks) {
  constexpr int kRowsPerPass = Threads / Chunks;
  const int r = tid / Chunks, chunk = tid % Chunks;
  if (kRowsPerPass > Tile::kSize && r >= Tile::kSize) return;
  const bool chunk_ok = chunk < valid_chunks;
#pragma unroll
  for (int n0 = 0; n0 < Tile::kSize; n0 += kRowsPerPass) {
    bool ok = chunk_ok;
    int64_t off = 0;
#pragma unroll
    for (int a = 0; a < Tile::kDims; ++a) {
      const int c = Tile::coord(n0, a);
      ok = ok && c < lim[a];
      off += c * estride[a];
    }
    cp_async_16(dst + 16u * Layout::unit(n0 + r, chunk), ok ? row0 + off + chunk * 8 : base, ok);
  }
}

/// As load_spatial_tile for rows first..first+Rows-1 of a [rows, row_stride] matrix (extra keys/values):
/// rows at or past `rows` are zero-filled; Rows need not be a multiple of the rows per pass.
template <int Rows, int Chunks, int Threads, class Layout, class Elem>
__device__ __forceinline__ void load_linear_tile(uint32_t dst, int tid, const Elem* base, int first, int rows,
                                                 int64_t row_stride, int valid_chunks) {
  constexpr int kRowsPerPass = Threads / Chunks;
  const int r = tid / Chunks, chunk = tid % Chunks;
  if (kRowsPerPass > Rows && r >= Rows) return;
  const bool chunk_ok = chunk < valid_chunks;
#pragma unroll
  for (int n0 = 0; n0 < Rows; n0 += kRowsPerPass) {
    // A last pass that overhangs the tile (the 20x20 window-union buffers, 400 rows, 32 per pass) stops at its end.
    if (Rows % kRowsPerPass != 0 && n0 + r >= Rows) break;
    const int row = first + n0 + r;
    const bool ok = chunk_ok && row < rows;
    cp_async_16(dst + 16u * Layout::unit(n0 + r, chunk), ok ? base + row * row_stride + chunk * 8 : base, ok);
  }
}

/// Flips the sign of every element this thread copied with load_spatial_tile (same rows and chunk), after
/// its cp.async group completed: a negative softmax scale becomes a positive one on -Q.
template <class Tile, int Chunks, int Threads, class Layout>
__device__ __forceinline__ void negate_tile(uint4* tile, int tid) {
  constexpr int kRowsPerPass = Threads / Chunks;
  const int r = tid / Chunks, chunk = tid % Chunks;
  if (kRowsPerPass > Tile::kSize && r >= Tile::kSize) return;
#pragma unroll
  for (int n0 = 0; n0 < Tile::kSize; n0 += kRowsPerPass) {
    uint4& u = tile[Layout::unit(n0 + r, chunk)];
    u.x ^= 0x80008000u, u.y ^= 0x80008000u, u.z ^= 0x80008000u, u.w ^= 0x80008000u;  // sign bits (fp16, bf16)
  }
}

/// Calls f(j) for every micro tile j whose bit is set in `active`. The all-active case is its own straight
/// loop so a full interior tile compiles without a branch per micro tile.
template <int Groups, class F>
__device__ __forceinline__ void for_active_groups(bool all_active, uint32_t active, F&& f) {
  if (all_active) {
#pragma unroll
    for (int j = 0; j < Groups; ++j) f(j);
  } else {
#pragma unroll
    for (int j = 0; j < Groups; ++j)
      if (active >> j & 1) f(j);
  }
}

/// Token index of spatial coordinates (c0, c1, c2) in batch b (unused axes have length 1, coordinate 0).
__device__ __forceinline__ int64_t token_of(const NaProblem& p, int64_t b, int c0, int c1, int c2) {
  const int l1 = p.dims >= 2 ? p.length[1] : 1;
  const int l2 = p.dims >= 3 ? p.length[2] : 1;
  return ((b * p.length[0] + c0) * l1 + c1) * l2 + c2;
}

}  // namespace detail

template <class QTile, class KVTile, int DT, int Stages, int Arch, class Tag>
__global__ void __launch_bounds__(ForwardTraits<QTile, KVTile, DT, Stages, Arch>::kThreads,
                                  ForwardTraits<QTile, KVTile, DT, Stages, Arch>::kMinBlocks)
    na_forward_kernel(const ForwardParams prm) {
  using Tr = ForwardTraits<QTile, KVTile, DT, Stages, Arch>;
#if !NATTEN_WGMMA_ENABLED
  if constexpr (Tr::kWgmma) {  // compiled for another architecture: the host never launches it there
    __trap();
    return;
  }
#endif
  using Elem = typename Tag::Storage;
  constexpr int kDims = QTile::kDims;
  constexpr int kChunks = Tr::kChunks;
  constexpr int kGroups = Tr::kGroups;
  const float kNegInf = -CUDART_INF_F;

  extern __shared__ __align__(1024) uint4 smem[];  // 1024: the 128-byte swizzle atoms of the wgmma tiles
  uint4* const s_q = smem;
  uint4* const s_k = smem + Tr::kQUnits;  // stage s: s_k + s * kKVUnits
  uint4* const s_v = s_k + Tr::kStages * Tr::kKVUnits;
  const uint32_t q_smem = smem_addr(s_q);
  const uint32_t k_smem = smem_addr(s_k), v_smem = smem_addr(s_v);
  if constexpr (Tr::kWgmma) {
    if (q_smem & 1023u) __trap();  // the swizzle atoms need 1024-byte alignment (tile sizes keep it)
  }

  const NaProblem& p = prm.p;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int grp = lane >> 2, tig = lane & 3;  // mma fragment row group / thread in group
  const int h = blockIdx.y;
  // 32-bit (batch and heads are <= 65535, checked on the host): one register each across the tile loop.
  const uint32_t b = blockIdx.z;
  const uint32_t hkv = uint32_t(h) * uint32_t(p.heads_kv) / uint32_t(p.heads);
  const int dqk = int(p.head_dim), dv = int(p.head_dim_v);

  // ---- where this CTA is: dilation group and group-local Q tile origin per axis ----
  // From blockIdx.x; 1-D/2-D epilogues decode it again (see there) instead of keeping it across the loop.
  auto locate = [&](uint32_t slot_index, GroupAxis(&axes)[3], int(&origin)[3]) {
    int64_t linear = slot_index;  // per-axis slots, last axis fastest (decode_slots with compile-time dims)
#pragma unroll
    for (int a = kDims - 1; a >= 0; --a) {
      const int n = axis_slots(p.length[a], p.dilation[a], QTile::ext(a));
      const AxisSlot slot = decode_slot(static_cast<int>(linear % n), p.length[a], p.dilation[a], QTile::ext(a));
      linear /= n;
      axes[a] = group_axis(p.axis(a), slot.group);
      origin[a] = slot.origin;
    }
  };
  GroupAxis ax[3];
  int q0[3] = {0, 0, 0};
  locate(blockIdx.x, ax, q0);
#pragma unroll
  for (int a = 0; a < kDims; ++a)
    if (q0[a] >= ax[a].lg) return;  // empty slot of a short (ragged) dilation group: whole CTA exits
  // Global coordinate of group-local c on axis a (0 on unused axes).
  auto global = [&](int a, int c) { return a < kDims ? ax[a].global(c) : 0; };

  // ---- KV box of the whole tile, and the KV tile walk ----
  int kv_lo[3] = {0, 0, 0}, kv_hi[3] = {1, 1, 1}, n_kv[3] = {1, 1, 1};
  int n_window_tiles = 1;
#pragma unroll
  for (int a = 0; a < kDims; ++a) {
    const Range r = tile_kv_range(ax[a], q0[a], QTile::ext(a));
    kv_lo[a] = r.start;
    kv_hi[a] = r.end;
    n_kv[a] = ceil_div(r.end - r.start, KVTile::ext(a));
    n_window_tiles *= n_kv[a];
  }
  const int n_extra = int(p.n_extra);
  const int n_tiles = n_window_tiles + ceil_div(n_extra, KVTile::kSize);

  // ---- per-warp query box and its windows (for the micro-tile skip / interior tests) ----
  bool warp_has_rows = true;
  Range w_first[3], w_last[3];
#pragma unroll
  for (int a = 0; a < kDims; ++a) {
    const int first = q0[a] + QTile::micro_origin(warp, a);
    const int last = min_int(first + QTile::micro(a), ax[a].lg) - 1;
    if (last < first) warp_has_rows = false;
    w_first[a] = ax[a].window(first);
    w_last[a] = ax[a].window(last < first ? first : last);
  }
  // ---- per-thread rows (fragment rows grp and grp + 8) and their windows ----
  Range row_win[2][3];
#pragma unroll
  for (int r = 0; r < 2; ++r)
#pragma unroll
    for (int a = 0; a < kDims; ++a) row_win[r][a] = ax[a].window(q0[a] + QTile::coord(warp * 16 + grp + 8 * r, a));

  // ---- loaders ----
  const Elem* const q_base = static_cast<const Elem*>(prm.a.q);
  const Elem* const k_base = static_cast<const Elem*>(prm.a.k);
  const Elem* const v_base = static_cast<const Elem*>(prm.a.v);
  const Elem* const ek_base = static_cast<const Elem*>(prm.a.extra_k);
  const Elem* const ev_base = static_cast<const Elem*>(prm.a.extra_v);

  // Token offset per unit step of a group-local coordinate (global step = dilation) and the token of
  // group-local (0, 0, 0) of this CTA's groups: token(c) = tok0 + sum_a c[a] * tstride[a].
  int64_t tstride[3] = {0, 0, 0};
  int64_t tok0 = 0;
  {
    int64_t inner = 1;
#pragma unroll
    for (int a = kDims - 1; a >= 0; --a) {
      tstride[a] = inner * p.dilation[a];
      tok0 += inner * ax[a].group;
      inner *= p.length[a];
    }
    tok0 += b * inner;
  }
  const int kv_row_r = tid / kChunks;                               // this thread's base row in a KV tile load
  const int64_t k_row = p.heads_kv * dqk, v_row = p.heads_kv * dv;  // elements per token
  // Window tiles are walked row-major over the box (last axis fastest) with per-axis counters:
  // tc_load is the next tile to load, tc_comp the tile being computed.
  int tc_load[3] = {0, 0, 0}, tc_comp[3] = {0, 0, 0};
  auto advance = [&](int(&c)[3]) {
    bool carry = true;
#pragma unroll
    for (int a = kDims - 1; a >= 0; --a) {
      const int next = c[a] + (carry ? 1 : 0);
      carry = next == n_kv[a];
      c[a] = carry ? 0 : next;
    }
  };
  // Loads K and V of tile t into `stage`: two commit groups with 2 stages (K first: S needs it first), one
  // group with 3 stages (the tile is needed two iterations later).
  auto load_kv = [&](int t, int stage) {
    const uint32_t dk = k_smem + stage * (16u * Tr::kKVUnits);
    const uint32_t dvv = v_smem + stage * (16u * Tr::kKVUnits);
    if (t < n_window_tiles) {
      int lim[3] = {1, 1, 1};
      int64_t tok = tok0;
#pragma unroll
      for (int a = 0; a < kDims; ++a) {
        const int c = kv_lo[a] + tc_load[a] * KVTile::ext(a) + KVTile::coord(kv_row_r, a);
        lim[a] = kv_hi[a] - c;  // rows past the box are seen by no query of this tile: zero-filled
        tok += c * tstride[a];
      }
      advance(tc_load);
      int64_t estride[3];  // recomputed per tile: fewer long-lived registers
#pragma unroll
      for (int a = 0; a < 3; ++a) estride[a] = tstride[a] * k_row;
      detail::load_spatial_tile<KVTile, kChunks, Tr::kThreads, typename Tr::KVLayout>(
          dk, tid, k_base, k_base + int64_t(hkv) * dqk + tok * k_row, estride, lim, dqk / 8);
      if constexpr (Tr::kStages == 2) cp_async_commit();
#pragma unroll
      for (int a = 0; a < 3; ++a) estride[a] = tstride[a] * v_row;
      detail::load_spatial_tile<KVTile, kChunks, Tr::kThreads, typename Tr::KVLayout>(
          dvv, tid, v_base, v_base + int64_t(hkv) * dv + tok * v_row, estride, lim, dv / 8);
      cp_async_commit();
    } else {
      const int e0 = (t - n_window_tiles) * KVTile::kSize;
      detail::load_linear_tile<KVTile::kSize, kChunks, Tr::kThreads, typename Tr::KVLayout>(
          dk, tid, ek_base + (int64_t(b) * n_extra * p.heads_kv + hkv) * dqk, e0, n_extra, k_row, dqk / 8);
      if constexpr (Tr::kStages == 2) cp_async_commit();
      detail::load_linear_tile<KVTile::kSize, kChunks, Tr::kThreads, typename Tr::KVLayout>(
          dvv, tid, ev_base + (int64_t(b) * n_extra * p.heads_kv + hkv) * dv, e0, n_extra, v_row, dv / 8);
      cp_async_commit();
    }
  };

  // ---- prologue: Q, then K/V of tile 0 ----
  {
    const int64_t q_row = p.heads * dqk;
    int64_t q_estride[3];
    int lim[3] = {1, 1, 1};
    int64_t tok = tok0;
#pragma unroll
    for (int a = 0; a < 3; ++a) q_estride[a] = tstride[a] * q_row;
#pragma unroll
    for (int a = 0; a < kDims; ++a) {
      const int c = q0[a] + QTile::coord(tid / kChunks, a);
      lim[a] = ax[a].lg - c;
      tok += c * tstride[a];
    }
    detail::load_spatial_tile<QTile, kChunks, Tr::kThreads, typename Tr::QLayout>(
        q_smem, tid, q_base, q_base + h * dqk + tok * q_row, q_estride, lim, dqk / 8);
  }
  cp_async_commit();
  load_kv(0, 0);  // n_tiles >= 1: every query has at least one window key
  if constexpr (Tr::kStages == 3) {
    if (n_tiles > 1) load_kv(1, 1);
    else cp_async_commit();
  }

  float o[DT / 8][4];
#pragma unroll
  for (int i = 0; i < DT / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  OnlineSoftmaxRows rows;  // running max and sum of this thread's two rows
  // ldmatrix lane addressing: Q as A operand, K as B operand (pairs of n8 blocks), V transposed.
  const detail::LaneOffsets<kChunks> q_lane(lane & 15, lane >> 4);
  const detail::LaneOffsets<kChunks> k_lane((lane & 7) + ((lane >> 4) << 3), (lane >> 3) & 1);
  const detail::LaneOffsets<kChunks> v_lane((lane & 7) + (((lane >> 3) & 1) << 3), lane >> 4);
  uint32_t qf[Tr::kQInRegs ? DT / 16 : 1][4];

  cp_async_wait<2>();  // Q landed (tile 0's K and V, or tiles 0 and 1, may still fly)
  if (prm.negate_q) detail::negate_tile<QTile, kChunks, Tr::kThreads, typename Tr::QLayout>(s_q, tid);
  if constexpr (Tr::kWgmma) fence_proxy_async();  // cp.async wrote it; wgmma reads through the async proxy
  __syncthreads();
  if constexpr (Tr::kQInRegs) {
#pragma unroll
    for (int kk = 0; kk < DT / 16; ++kk) ldmatrix_x4(qf[kk], q_smem + q_lane.at(warp, kk));
  }

  constexpr uint32_t kAllGroups = kGroups == 32 ? 0xffffffffu : (1u << kGroups) - 1u;
  int stage = 0;  // stage of tile t
  for (int t = 0; t < n_tiles; ++t) {
    // 2 stages: K of tile t landed (its V may still fly); 3 stages: tile t landed (t + 1 may still fly).
    cp_async_wait<1>();
    if constexpr (Tr::kWgmma) fence_proxy_async();
    __syncthreads();  // ... for every thread; and every warp is done with tile t - 1, whose stage we refill
    if constexpr (Tr::kStages == 2) {
      if (t + 1 < n_tiles) {
        load_kv(t + 1, stage ^ 1);
      } else {
        cp_async_commit();  // empty groups keep the wait counts uniform
        cp_async_commit();
      }
    } else {
      const int refill = stage == 0 ? 2 : stage - 1;  // (t + 2) % 3 == (t - 1) % 3
      if (t + 2 < n_tiles) load_kv(t + 2, refill);
      else cp_async_commit();
    }
    const uint32_t sk = k_smem + stage * (16u * Tr::kKVUnits);
    const uint32_t sv = v_smem + stage * (16u * Tr::kKVUnits);

    // Classify the 16-key micro tiles of this KV tile for this warp: bit j of active / partial.
    uint32_t active = 0, partial = 0;
    const bool window_tile = t < n_window_tiles;
    int ko[3] = {0, 0, 0};
    int e0 = 0;
    if (window_tile) {
#pragma unroll
      for (int a = 0; a < kDims; ++a) ko[a] = kv_lo[a] + tc_comp[a] * KVTile::ext(a);
      advance(tc_comp);
      if (warp_has_rows) {
#pragma unroll
        for (int j = 0; j < kGroups; ++j) {
          bool overlap = true, inside = true;
#pragma unroll
          for (int a = 0; a < kDims; ++a) {
            const int g0 = ko[a] + KVTile::micro_origin(j, a);
            const int g1 = g0 + KVTile::micro(a);
            overlap = overlap && g0 < w_last[a].end && g1 > w_first[a].start && g0 < kv_hi[a];
            inside = inside && w_last[a].start <= g0 && w_first[a].end >= g1;
          }
          if (overlap) active |= 1u << j;
          if (overlap && !inside) partial |= 1u << j;
        }
      }
    } else {
      e0 = (t - n_window_tiles) * KVTile::kSize;
#pragma unroll
      for (int j = 0; j < kGroups; ++j) {
        if (e0 + 16 * j < n_extra) active |= 1u << j;
        if (e0 + 16 * j + 16 > n_extra) partial |= 1u << j;
      }
    }
    partial &= active;
    uint32_t dead = 0;  // micro tiles computed but outside every window of this warp (wgmma only)
    if constexpr (Tr::kWgmma) {
      // The warpgroup computes whole KV tiles: micro tiles outside this warp's windows are computed too and
      // set to -inf (no mask to build); they count as partial, so the unmasked fast path is not taken.
      dead = kAllGroups & ~active;
      partial |= dead;
      active = kAllGroups;
    }
    // Warp-uniform fast path: every micro tile active (large windows, interior tiles) runs branch-free.
    const bool all_active = active == kAllGroups;

    float s[kGroups][2][4];
    if (active) {
      // ---- S = Q K^T over the active micro tiles ----
#pragma unroll
      for (int j = 0; j < kGroups; ++j)
#pragma unroll
        for (int nb = 0; nb < 2; ++nb) s[j][nb][0] = s[j][nb][1] = s[j][nb][2] = s[j][nb][3] = 0.f;
      auto q_frag = [&](int kk, uint32_t(&qa)[4]) {
        if constexpr (Tr::kQInRegs) {
#pragma unroll
          for (int i = 0; i < 4; ++i) qa[i] = qf[kk][i];
        } else {
          ldmatrix_x4(qa, q_smem + q_lane.at(warp, kk));
        }
      };
      auto qk_group = [&](int j, int kk, const uint32_t(&qa)[4]) {
        uint32_t kb[4];
        ldmatrix_x4(kb, sk + k_lane.at(j, kk));
        const uint32_t b0[2] = {kb[0], kb[1]}, b1[2] = {kb[2], kb[3]};
        mma_16816(Tag{}, s[j][0], qa, b0);
        mma_16816(Tag{}, s[j][1], qa, b1);
      };
      if constexpr (Tr::kWgmma) {
        // k-step kk: 64-element column block kk / 4, 32 bytes per k-step inside it (K-major, 128B swizzle).
        float(&sf)[kGroups * 8] = reinterpret_cast<float(&)[kGroups * 8]>(s);
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < DT / 16; ++kk) {
          const uint32_t off = (kk >> 2) * 128u * QTile::kSize + (kk & 3) * 32u;
          const uint32_t koff = (kk >> 2) * 128u * KVTile::kSize + (kk & 3) * 32u;
          wgmma_m64n64k16_ss(Tag{}, sf, gmma_desc(q_smem + off, 16, 1024), gmma_desc(sk + koff, 16, 1024), kk > 0);
        }
        wgmma_commit();
        wgmma_wait<0>();
#pragma unroll
        for (int i = 0; i < kGroups * 8; ++i) pin(sf[i]);
      } else if (all_active) {
#pragma unroll
        for (int kk = 0; kk < DT / 16; ++kk) {
          uint32_t qa[4];
          q_frag(kk, qa);
#pragma unroll
          for (int j = 0; j < kGroups; ++j) qk_group(j, kk, qa);
        }
      } else {
        // One straight-line block per active micro tile (a branch per tile, not per k-step).
#pragma unroll
        for (int j = 0; j < kGroups; ++j) {
          if (!(active >> j & 1)) continue;
#pragma unroll
          for (int kk = 0; kk < DT / 16; ++kk) {
            uint32_t qa[4];
            q_frag(kk, qa);
            qk_group(j, kk, qa);
          }
        }
      }

      // ---- scale, mask, online softmax (base 2) ----
      float mx[2] = {kNegInf, kNegInf};
      if (all_active && !partial) {
#pragma unroll
        for (int j = 0; j < kGroups; ++j)
#pragma unroll
          for (int nb = 0; nb < 2; ++nb)
#pragma unroll
            for (int e = 0; e < 4; ++e) mx[e >> 1] = fmaxf(mx[e >> 1], s[j][nb][e]);  // raw: the scale is > 0
      } else {
        // Multi-dim KV tiles (extents <= 16 per axis): per row and axis, one bitmap of the tile positions
        // inside the row's window; a micro tile's axis bits are then one bit-field extract.
        constexpr bool kTileBits = KVTile::ext(0) <= 16 && KVTile::ext(1) <= 16 && KVTile::ext(2) <= 16;
        // This thread's keys in a micro tile are positions i = 8 nb + 2 tig + (e & 1): bit-disjoint parts, so
        // each axis coordinate is (compile-time part of 8 nb + (e & 1)) + (this lane's part tig_coord[a]).
        // Shifting a row's axis bitmap right by the lane's part once per tile leaves a compile-time bit test
        // per key and axis (row_bits below).
        uint32_t row_bits[2][3] = {{1u, 1u, 1u}, {1u, 1u, 1u}};
        if (kTileBits && window_tile && partial) {
          // This lane's part of its keys' micro-tile coordinates: the coordinate bits of 2 tig. (The lane id is
          // re-read here to keep it out of the registers live across the tile loop; ptxas -v showed the same
          // register counts either way.)
          const uint32_t lane_id = volatile_lane_id();
          int tig_coord[3] = {0, 0, 0};
#pragma unroll
          for (int a = 0; a < kDims; ++a) tig_coord[a] = KVTile::micro_coord(2 * int(lane_id & 3u), a);
#pragma unroll
          for (int r = 0; r < 2; ++r)
#pragma unroll
            for (int a = 0; a < kDims; ++a)
              row_bits[r][a] =
                  KVTile::axis_bits(row_win[r][a].start - ko[a], row_win[r][a].end - ko[a], KVTile::ext(a)) >>
                  tig_coord[a];
        }
#pragma unroll
        for (int j = 0; j < kGroups; ++j) {
          if (!(active >> j & 1)) continue;
          if (dead >> j & 1) {
#pragma unroll
            for (int nb = 0; nb < 2; ++nb)
#pragma unroll
              for (int e = 0; e < 4; ++e) s[j][nb][e] = kNegInf;
            continue;
          }
          if (kTileBits && window_tile && (partial >> j & 1)) {
#pragma unroll
            for (int nb = 0; nb < 2; ++nb)
#pragma unroll
              for (int e = 0; e < 4; ++e) {
                const int i0 = 8 * nb + (e & 1);  // the lane's part is already shifted out of row_bits
                uint32_t in = 1u;
#pragma unroll
                for (int a = 0; a < kDims; ++a)
                  in &= row_bits[e >> 1][a] >> (KVTile::micro_origin(j, a) + KVTile::micro_coord(i0, a));
                const float x = (in & 1u) ? s[j][nb][e] : kNegInf;
                s[j][nb][e] = x;
                mx[e >> 1] = fmaxf(mx[e >> 1], x);
              }
            continue;
          }
          // Bits (nb * 8 + e % 2) of keep[r]: which of this thread's four keys of micro tile j row r sees.
          uint32_t keep[2] = {0xffffu, 0xffffu};
          if (partial >> j & 1) {
#pragma unroll
            for (int r = 0; r < 2; ++r) {
              uint32_t m;
              if (window_tile) {
                int lo[3] = {0, 0, 0}, hi[3] = {1, 1, 1};
#pragma unroll
                for (int a = 0; a < kDims; ++a) {
                  const int base = ko[a] + KVTile::micro_origin(j, a);
                  lo[a] = row_win[r][a].start - base;
                  hi[a] = row_win[r][a].end - base;
                }
                m = KVTile::micro_box_mask(lo, hi);
              } else {
                const int left = n_extra - (e0 + 16 * j);  // extra keys left from this micro tile on
                m = left >= 16 ? 0xffffu : left <= 0 ? 0u : (1u << left) - 1u;
              }
              keep[r] = m >> (2 * tig);
            }
          }
#pragma unroll
          for (int nb = 0; nb < 2; ++nb)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              float x = s[j][nb][e];
              if (!((keep[e >> 1] >> (nb * 8 + (e & 1))) & 1u)) x = kNegInf;
              s[j][nb][e] = x;
              mx[e >> 1] = fmaxf(mx[e >> 1], x);
            }
        }
      }
      float alpha[2], m_use[2];
      rows.update(mx, prm.scale_log2, m_use, alpha);
      auto exp_group = [&](int j) {
#pragma unroll
        for (int nb = 0; nb < 2; ++nb)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const float pe = exp2_approx(fmaf(s[j][nb][e], prm.scale_log2, -m_use[e >> 1]));  // one FFMA
            s[j][nb][e] = pe;
            rows.l[e >> 1] += pe;
          }
      };
      detail::for_active_groups<kGroups>(all_active, active, exp_group);
      // Rescale O only when some row's max moved (in the middle of a walk it mostly does not).
      if (!__all_sync(0xffffffffu, alpha[0] == 1.f && alpha[1] == 1.f)) {
#pragma unroll
        for (int i = 0; i < DT / 8; ++i) {
          o[i][0] *= alpha[0];
          o[i][1] *= alpha[0];
          o[i][2] *= alpha[1];
          o[i][3] *= alpha[1];
        }
      }
    }

    if constexpr (Tr::kStages == 2) {
      cp_async_wait<2>();  // V of tile t landed (tile t + 1 may still fly)
      if constexpr (Tr::kWgmma) fence_proxy_async();
      __syncthreads();
    }

    if (active) {
      // ---- O += P V ----
      auto pv_group = [&](int j) {
        uint32_t pa[4];
        pack_a_from_c(Tag{}, pa, s[j][0], s[j][1]);
#pragma unroll
        for (int dp = 0; dp < DT / 16; ++dp) {
          uint32_t vb[4];
          ldmatrix_x4_trans(vb, sv + v_lane.at(j, dp));
          const uint32_t b0[2] = {vb[0], vb[1]}, b1[2] = {vb[2], vb[3]};
          mma_16816(Tag{}, o[2 * dp], pa, b0);
          mma_16816(Tag{}, o[2 * dp + 1], pa, b1);
        }
      };
      if constexpr (Tr::kWgmma) {
        // Keys 16j..16j+15 = V rows 16j.. (2048 bytes per k-step); V is the MN-major B operand: 8-row groups
        // 1024 bytes apart, 64-column blocks one whole KV tile (64 rows x 128 bytes) apart.
        uint32_t pa[kGroups][4];
#pragma unroll
        for (int j = 0; j < kGroups; ++j) pack_a_from_c(Tag{}, pa[j], s[j][0], s[j][1]);
        float(&of)[DT / 2] = reinterpret_cast<float(&)[DT / 2]>(o);
        wgmma_fence();
#pragma unroll
        for (int j = 0; j < kGroups; ++j) {
          const uint64_t vd = gmma_desc(sv + j * 2048u, 128u * KVTile::kSize, 1024);
          if constexpr (DT == 64) wgmma_m64n64k16_rs(Tag{}, of, pa[j], vd);
          else wgmma_m64n128k16_rs(Tag{}, of, pa[j], vd);
        }
        wgmma_commit();
        wgmma_wait<0>();
#pragma unroll
        for (int j = 0; j < kGroups; ++j)
#pragma unroll
          for (int i = 0; i < 4; ++i) pin(pa[j][i]);
#pragma unroll
        for (int i = 0; i < DT / 2; ++i) pin(of[i]);
      } else {
        detail::for_active_groups<kGroups>(all_active, active, pv_group);
      }
    }
    stage = stage + 1 == Tr::kStages ? 0 : stage + 1;
  }
  cp_async_wait<0>();

  // ---- epilogue: O / l and LSE; O staged through this warp's own Q rows for 16-byte stores ----
  float inv[2], lse[2];
  rows.finish(inv, lse);
  if constexpr (Tr::kWgmma) __syncthreads();  // every warp's wgmma has finished reading Q before O lands there
  uint32_t* const stage_o = reinterpret_cast<uint32_t*>(s_q);
#pragma unroll
  for (int i = 0; i < DT / 8; ++i) {
    const int r0 = warp * 16 + grp;
    stage_o[swizzle<kChunks>(r0, i) * 4 + tig] = pack2(Tag{}, o[i][0] * inv[0], o[i][1] * inv[0]);
    stage_o[swizzle<kChunks>(r0 + 8, i) * 4 + tig] = pack2(Tag{}, o[i][2] * inv[1], o[i][3] * inv[1]);
  }
  __syncwarp();

  if constexpr (Tr::kWgmma && kDims < 3) {
    // Register allocation: decoding the CTA position again here (from a volatile read of %ctaid.x) frees
    // ax/q0 during the tile loop; at 3 CTAs/SM that removed the 16-byte spill of the 2-D tier-64 wgmma
    // kernel. Only there: 3-D kernels allocate better without it (ptxas -v), and the mma.sync 1-D/2-D
    // kernels ran 8-9% slower with it (bench/NOTES.md).
    locate(volatile_ctaid_x(), ax, q0);
  }
  // Token of query row n of the tile, or -1 where the row lies past the edge of the feature map.
  auto token_at = [&](int n) -> int64_t {
    int c[3] = {0, 0, 0};
#pragma unroll
    for (int a = 0; a < kDims; ++a) {
      c[a] = q0[a] + QTile::coord(n, a);
      if (c[a] >= ax[a].lg) return -1;
    }
    return detail::token_of(p, b, global(0, c[0]), global(1, c[1]), global(2, c[2]));
  };
  Elem* const out = static_cast<Elem*>(prm.a.out);
  const int dv_chunks = dv / 8;
#pragma unroll
  for (int idx = lane; idx < 16 * kChunks; idx += 32) {
    const int n = warp * 16 + idx / kChunks;
    const int ch = idx % kChunks;
    if (ch >= dv_chunks) continue;
    const int64_t tok = token_at(n);
    if (tok < 0) continue;
    *reinterpret_cast<uint4*>(out + (tok * p.heads + h) * dv + ch * 8) = s_q[swizzle<kChunks>(n, ch)];
  }
  if (tig == 0 && prm.a.lse != nullptr) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int64_t tok = token_at(warp * 16 + grp + 8 * r);
      if (tok >= 0) prm.a.lse[tok * p.heads + h] = lse[r];
    }
  }
}

/// The kernel's parameters for problem p: a negative scale runs on -Q (negate_q) so the kernel's scale is
/// positive; 0 becomes 1e-30 (every score then rounds to the same value, which is what scale 0 means, and -inf
/// masks stay -inf).
inline ForwardParams forward_params(const NaProblem& p, const FusedForwardArgs& args) {
  const float scale_log2 = std::max(std::fabs(static_cast<float>(p.scale)) * kLog2e, 1e-30f);
  return ForwardParams{p, args, scale_log2, p.scale < 0 ? 1 : 0};
}

}  // namespace natten::fused
