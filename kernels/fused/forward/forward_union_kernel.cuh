// The window-union forward (mma.sync, sm_80+; 2-D): for small windows, where a KV tile walk mostly moves
// and computes keys no query needs (k7 on Q 8x8 / KV 8x8 tiles: 9 tiles, 576 keys, for a 14x14 union).
//
// One CTA = one Q tile of one (batch, head) inside one dilation group per axis (the grid of
// forward_kernel.cuh). It loads its Q tile and the whole window union of the tile (the box
// tile_kv_range gives per axis, at most Cap0 x Cap1 keys, row-major with the box's own width) into shared
// memory once: one cp.async group, one barrier, no K/V ring. Each warp (16 queries, a 4x4 micro box) then
// computes exactly the keys of its own queries' union box (k7: 10x10 = 100 keys for 49 per query) as a
// list of keys in row-major order: ldmatrix takes one row address per lane, so an n8 block of S (and a k16
// step of P V) gathers any 8 (16) keys of the box. The list runs in chunks of kUnionChunkKeys with the
// online softmax of forward_kernel.cuh (k7: 64 + 48 keys). A key of the list is in a query row's window
// iff it lies in the row's window rows (one range of the list) and in its window columns (a pattern the
// warp builds per chunk, one list row per lane).
// Additional keys follow in chunks of Cap0 x Cap1 through the same buffers.
//
// Panel lists (configs with unions wider than 16 keys, Cap1 > 16: windows of 10-13): a warp whose union rows
// hold at most 16 keys lists them as one 16-key group per union row, padded with masked copies of the row's
// last key, in whole 64-key chunks (no step of a chunk tests its length). Its ldmatrix row addresses are then
// one base per lane plus the group's union row times the box's row pitch (the K/V tiles are swizzled by the
// key's box column, which is the same in every row), and its masks are a per-lane column pattern ANDed with a
// per-group row test. Wider unions fall back to the row-major list.
//
// With Split = 2 two warps share a micro box and take alternate chunks of its list (twice the resident warps
// where the shared memory of a large union holds two CTAs per SM: the kernel is latency-bound); the second
// warp hands its running max, sum and O to the first through shared memory, which merges them and stores.
//
// The host runs it only on problems whose every Q tile's union fits (max_tile_kv_extent, forward.cu).
#pragma once
#include <type_traits>

#include "forward_kernel.cuh"

namespace natten::fused {

/// Keys of a warp's list per softmax chunk: 8 n8 blocks of S, 4 k16 steps of P V (112 spilled at 128 registers).
constexpr int kUnionChunkKeys = 64;

/// Sizes derived from a window-union configuration (Q tile, union capacity Cap0 x Cap1 keys, head-dim tier,
/// warps per 16-query micro box).
template <class QTile, int Cap0, int Cap1, int DT, int Split>
struct UnionTraits {
  static_assert(QTile::kDims == 2, "the window-union kernel is 2-D");
  static_assert(kUnionChunkKeys == 64, "one 64-bit mask per fragment row and chunk");
  static_assert(Split == 1 || Split == 2, "one or two warps per micro box");
  static constexpr int kBoxes = QTile::kMicroCount;  // 16-query micro boxes
  static constexpr int kWarps = kBoxes * Split;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kChunks = DT / 8;  // 16-byte chunks per row
  static constexpr int kCapKeys = Cap0 * Cap1;
  static constexpr int kQUnits = QTile::kSize * kChunks;
  static constexpr int kKVUnits = kCapKeys * kChunks;
  static constexpr size_t kSmemBytes = size_t(16) * (kQUnits + 2 * kKVUnits);
  /// Resident CTAs per SM for the register cap: at tier 32 five (96 registers, a 16-byte spill outside the
  /// chunk loop; measured 4.5% faster than four at 128 registers), at tier 64 what the shared memory holds:
  /// three with a 16x16 union, two with a larger one (two warps per box: 128 registers).
  static constexpr int kMinBlocks = kBoxes != 4 || Split == 2 ? 2 : DT <= 32 ? 5 : (kCapKeys > 256 ? 2 : 3);
  /// The split merge's exchange (per box and lane: O's fragments, then running max and sum) in the K buffer.
  static constexpr size_t kMergeBytes = size_t(16) * kBoxes * 32 * (DT / 8 + 1);
  static_assert(Split == 1 || kMergeBytes <= size_t(16) * kKVUnits, "the merge exchange fits the K buffer");
  /// Panel lists (see the top): the K/V tiles swizzled by box column instead of row.
  static constexpr int kPanelKeys = 16;  // one 16-key group of a list: an S block pair, a P V k-step
  static constexpr bool kPanelList = Cap1 > kPanelKeys;
  static_assert(!kPanelList || kChunks >= 8, "panel lists: 128-byte rows or wider");
  using Layout = RowSwizzle<kChunks>;  // Q, the extra keys, and K/V without panel lists
};

namespace detail {

/// floor(n / d) for 0 <= n < 2^24 and 1 <= d <= 32 with a precomputed magic = ceil(2^32 / d): one IMAD.HI.
__device__ __forceinline__ int div_by_magic(int n, uint32_t magic) {
  return static_cast<int>((uint64_t(uint32_t(n)) * magic) >> 32);
}

/// Bits [lo, hi) of a 32-bit mask (0 <= lo <= hi <= 32).
__device__ __forceinline__ uint32_t bit_range(int lo, int hi) {
  const uint32_t below_hi = hi >= 32 ? 0xffffffffu : (1u << hi) - 1u;
  return below_hi & ~((1u << lo) - 1u);
}

/// The K/V shared-memory unit of (box key u at box column c, chunk) under panel lists: row u's chunks
/// swizzled by c, so the rows of one box column share their swizzle (swizzle<Chunks>, c for the row).
template <int Chunks>
__device__ __forceinline__ int panel_unit(int u, int c, int chunk) {
  return (u - c) * Chunks + swizzle<Chunks>(c, chunk);
}

/// This lane's window bits of one chunk: keep(j, e) tells whether score e of n8 block j is in its row's window.
/// From a 64-bit mask per fragment row over the chunk's keys (bit k: key base + k), shifted to this lane's
/// columns 2 (lane % 4) + e % 2.
struct LaneMask64 {
  uint64_t bits[2];
  __device__ __forceinline__ bool keep(int j, int e) const { return (bits[e >> 1] >> (8 * j + (e & 1))) & 1u; }
};
/// The same as 16 bits per fragment row, bit 2 j + e % 2 (panel lists).
struct LaneMask16 {
  uint32_t bits[2];
  __device__ __forceinline__ bool keep(int j, int e) const { return (bits[e >> 1] >> (2 * j + (e & 1))) & 1u; }
};

/// Bits [lo, hi) of a 64-bit mask, lo and hi clamped to [0, 64].
__device__ __forceinline__ uint64_t bit_range64(int lo, int hi) {
  lo = lo < 0 ? 0 : (lo > 64 ? 64 : lo);
  hi = hi < 0 ? 0 : (hi > 64 ? 64 : hi);
  const uint64_t below_hi = hi >= 64 ? ~0ull : (1ull << hi) - 1ull;
  const uint64_t below_lo = lo >= 64 ? ~0ull : (1ull << lo) - 1ull;
  return below_hi & ~below_lo;
}

}  // namespace detail

template <class QTile, int Cap0, int Cap1, int DT, int Split, class Tag>
__global__ void __launch_bounds__(UnionTraits<QTile, Cap0, Cap1, DT, Split>::kThreads,
                                  UnionTraits<QTile, Cap0, Cap1, DT, Split>::kMinBlocks)
    na_forward_union_kernel(const ForwardParams prm) {
  using Tr = UnionTraits<QTile, Cap0, Cap1, DT, Split>;
  using Layout = typename Tr::Layout;
  using Elem = typename Tag::Storage;
  constexpr int kChunks = Tr::kChunks;
  const float kNegInf = -CUDART_INF_F;

  extern __shared__ __align__(1024) uint4 smem[];  // the declaration of forward_kernel.cuh (one array per CTA)
  uint4* const s_q = smem;
  const uint32_t q_smem = smem_addr(s_q);
  const uint32_t k_smem = q_smem + 16u * Tr::kQUnits, v_smem = k_smem + 16u * Tr::kKVUnits;

  const NaProblem& p = prm.p;
  const int tid = threadIdx.x, lane = tid & 31;
  // This warp's micro box (16 queries) and its part of the box's key list (chunks part, part + Split, ...).
  const int box_id = (tid >> 5) % Tr::kBoxes, part = (tid >> 5) / Tr::kBoxes;
  const int grp = lane >> 2, tig = lane & 3;
  const int h = blockIdx.y;
  const uint32_t b = blockIdx.z;
  const uint32_t hkv = uint32_t(h) * uint32_t(p.heads_kv) / uint32_t(p.heads);
  const int dqk = int(p.head_dim), dv = int(p.head_dim_v);

  // ---- where this CTA is (the slot order of forward_kernel.cuh: last axis fastest) ----
  GroupAxis ax[2];
  int q0[2];
  {
    uint32_t linear = blockIdx.x;  // 32-bit: the grid's x extent is below 2^31
#pragma unroll
    for (int a = 1; a >= 0; --a) {
      const uint32_t n = uint32_t(axis_slots(p.length[a], p.dilation[a], QTile::ext(a)));
      const AxisSlot slot = decode_slot(static_cast<int>(linear % n), p.length[a], p.dilation[a], QTile::ext(a));
      linear /= n;
      ax[a] = group_axis(p.axis(a), slot.group);
      q0[a] = slot.origin;
    }
  }
  if (q0[0] >= ax[0].lg || q0[1] >= ax[1].lg) return;  // empty slot of a short dilation group

  // ---- the windows of the tile's query coordinates q0 + i (clamped to the group), one per lane (axis 0 on
  // lanes 0.., axis 1 on lanes 16..) and read by shuffles: every window below is one of them, and a window
  // costs a division by the stride ----
  static_assert(QTile::ext(0) <= 16 && QTile::ext(1) <= 16, "one lane per query coordinate and axis");
  Range my_win = {0, 0};
  {
    const GroupAxis g = lane < 16 ? ax[0] : ax[1];
    const int i = lane & 15, c0 = lane < 16 ? q0[0] : q0[1];
    if (i < (lane < 16 ? QTile::ext(0) : QTile::ext(1))) my_win = g.window(min_int(c0 + i, g.lg - 1));
  }
  auto win_start = [&](int a, int i) { return __shfl_sync(0xffffffffu, my_win.start, 16 * a + i); };
  auto win_end = [&](int a, int i) { return __shfl_sync(0xffffffffu, my_win.end, 16 * a + i); };

  // ---- the union box of the tile (tile_kv_range), row-major with its own width ----
  int kv_lo[2], box[2];
#pragma unroll
  for (int a = 0; a < 2; ++a) {
    kv_lo[a] = win_start(a, 0);
    box[a] = win_end(a, QTile::ext(a) - 1) - kv_lo[a];
  }
  if (box[0] > Cap0 || box[1] > Cap1) __trap();  // the host launches only problems whose unions fit
  const int box_keys = box[0] * box[1];

  // Token of group-local (0, 0) of this CTA's groups and the token step per group-local coordinate.
  const int64_t tstride[2] = {int64_t(p.length[1]) * p.dilation[0], p.dilation[1]};
  const int64_t tok0 = (int64_t(b) * p.length[0] + ax[0].group) * p.length[1] + ax[1].group;

  // ---- loads: Q, then K and V of the box; one group, one barrier ----
  const Elem* const q_base = static_cast<const Elem*>(prm.a.q);
  const Elem* const k_base = static_cast<const Elem*>(prm.a.k);
  const Elem* const v_base = static_cast<const Elem*>(prm.a.v);
  const int64_t k_row = p.heads_kv * dqk, v_row = p.heads_kv * dv;  // elements per token
  {
    const int64_t q_row = p.heads * dqk;
    const int64_t q_estride[3] = {tstride[0] * q_row, tstride[1] * q_row, 0};
    int lim[3] = {1, 1, 1};
    int64_t tok = tok0;
#pragma unroll
    for (int a = 0; a < 2; ++a) {
      const int c = q0[a] + QTile::coord(tid / kChunks, a);
      lim[a] = ax[a].lg - c;
      tok += c * tstride[a];
    }
    detail::load_spatial_tile<QTile, kChunks, Tr::kThreads, Layout>(q_smem, tid, q_base, q_base + h * dqk + tok * q_row,
                                                                    q_estride, lim, dqk / 8);
  }
  {
    const Elem* const k0 = k_base + int64_t(hkv) * dqk;
    const Elem* const v0 = v_base + int64_t(hkv) * dv;
    // This thread copies chunk `chunk` of box keys u0, u0 + kStep, ...: each step is q box rows and rem columns
    // on, plus one row where the column wraps, so the two source pointers move by one of two fixed element
    // steps and only the column is tracked (the loop issues little besides its copies).
    constexpr int kStep = Tr::kThreads / kChunks;
    const int chunk = tid % kChunks, u0 = tid / kChunks;
    const int q = kStep / box[1], rem = kStep - q * box[1];
    int c = u0 % box[1];
    const int64_t tok = tok0 + (kv_lo[0] + u0 / box[1]) * tstride[0] + (kv_lo[1] + c) * tstride[1];
    const bool k_ok = chunk < dqk / 8, v_ok = chunk < dv / 8;
    const Elem* kp = k0 + tok * k_row + chunk * 8;
    const Elem* vp = v0 + tok * v_row + chunk * 8;
    const int64_t tok_step = q * tstride[0] + rem * tstride[1], tok_wrap = tstride[0] - box[1] * tstride[1];
    const int64_t k_step = tok_step * k_row, k_wrap = tok_wrap * k_row;
    const int64_t v_step = tok_step * v_row, v_wrap = tok_wrap * v_row;
    for (int u = u0; u < box_keys; u += kStep) {
      const uint32_t unit = Tr::kPanelList ? detail::panel_unit<kChunks>(u, c, chunk) : Layout::unit(u, chunk);
      cp_async_16(k_smem + 16u * unit, k_ok ? kp : k_base, k_ok);
      cp_async_16(v_smem + 16u * unit, v_ok ? vp : v_base, v_ok);
      kp += k_step;
      vp += v_step;
      c += rem;
      if (c >= box[1]) {
        c -= box[1];
        kp += k_wrap;
        vp += v_wrap;
      }
    }
  }
  cp_async_commit();
  cp_async_wait<0>();
  if (prm.negate_q) detail::negate_tile<QTile, kChunks, Tr::kThreads, Layout>(s_q, tid);
  __syncthreads();

  uint32_t qf[DT / 16][4];
  {
    const detail::LaneOffsets<kChunks> q_lane(lane & 15, lane >> 4);
#pragma unroll
    for (int kk = 0; kk < DT / 16; ++kk) ldmatrix_x4(qf[kk], q_smem + q_lane.at(box_id, kk));
  }

  // ---- this warp's key list: its queries' union box, row-major ----
  bool has_rows = true;
  int w_lo[2], w_ext[2];
#pragma unroll
  for (int a = 0; a < 2; ++a) {
    const int first = QTile::micro_origin(box_id, a);  // coordinates past the group clamp to its last query
    if (q0[a] + first >= ax[a].lg) has_rows = false;
    w_lo[a] = win_start(a, first);
    w_ext[a] = win_end(a, first + QTile::micro(a) - 1) - w_lo[a];
  }
  // Box row of list row 0 and box column of list column 0.
  const int row_off = w_lo[0] - kv_lo[0], col_off = w_lo[1] - kv_lo[1];
  // The window of a fragment row (grp, grp + 8) in list coordinates: rows [row_lo, row_hi), columns
  // [col_lo, col_hi). The two rows of a 4x4 micro box share their axis-1 coordinate, hence their columns.
  static_assert(QTile::micro(0) == 4 && QTile::micro(1) == 4, "fragment rows grp and grp + 8 share axis 1");
  // (A row past the group's end takes its last query's window: its output is not stored.)
  int row_lo[2], row_hi[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int i = QTile::coord(box_id * 16 + grp + 8 * r, 0);
    row_lo[r] = win_start(0, i) - w_lo[0];
    row_hi[r] = win_end(0, i) - w_lo[0];
  }
  const int col_lo = win_start(1, QTile::coord(box_id * 16 + grp, 1)) - w_lo[1];
  const int col_hi = win_end(1, QTile::coord(box_id * 16 + grp, 1)) - w_lo[1];
  // This lane's ldmatrix rows within a 16-key group: S = Q K^T takes x4 (block 2jp, chunk 2kk), (2jp, 2kk + 1),
  // (2jp + 1, 2kk), (2jp + 1, 2kk + 1); P V takes x4.trans (keys 0-7, chunk 2dp), (keys 8-15, 2dp), (keys
  // 0-7, 2dp + 1), (keys 8-15, 2dp + 1). The chunk pair kk of a row address is the pair 0 address XOR 32 kk
  // (the swizzles XOR the chunk's low bits, the rows are 128-byte aligned).
  const int key_s = ((lane >> 4) << 3) + (lane & 7), chunk_s = (lane >> 3) & 1;
  const int key_v = (lane & 7) + (((lane >> 3) & 1) << 3), chunk_v = lane >> 4;

  // Row-major list: shared-memory row of list key n: list row r = n / width, column n - r width, at union-box
  // row (r + row_off) box[1] + col_off + (n - r width) = n + r (box[1] - width) + base_row, box column
  // col_off + n - r width. Keys past the list: row 0 (loaded and finite; their P is 0).
  const int n_row_keys = w_ext[0] * w_ext[1];
  const uint32_t magic = 0xffffffffu / uint32_t(w_ext[1]) + 1u;  // ceil(2^32 / width) (widths <= 32)
  const int row_step = box[1] - w_ext[1], base_row = row_off * box[1] + col_off;
  auto list_addr = [&](uint32_t smem_base, int n, int chunk) -> uint32_t {
    if (n >= n_row_keys) return smem_base + 16u * Layout::unit(0, chunk);  // box key 0: the same unit in both layouts
    const int r = detail::div_by_magic(n, magic), u = n + r * row_step + base_row;
    return smem_base + 16u * (Tr::kPanelList ? detail::panel_unit<kChunks>(u, col_off + n - r * w_ext[1], chunk)
                                             : Layout::unit(u, chunk));
  };
  // Bit k of m[i]: whether list key base + k (k < 64) is in the window of fragment row i. A row's window rows
  // are one contiguous range of the row-major list; its columns repeat every list row. The 8 lanes of one
  // query column (lane bits 0, 1 and 4 vary) build that column's pattern for the chunk one list row each and
  // OR it together over those bits (keys past the list: past every row range).
  const int col_lane = (lane & 3) | ((lane >> 2) & 4);  // 0..7 among the lanes of this query column
  auto list_masks = [&](int base) {
    const int r_end = min_int(w_ext[0], detail::div_by_magic(base + 63, magic) + 1);
    uint32_t lo = 0, hi = 0;
    for (int rr = detail::div_by_magic(base, magic) + col_lane; rr < r_end; rr += 8) {
      const uint64_t bits = detail::bit_range64(rr * w_ext[1] + col_lo - base, rr * w_ext[1] + col_hi - base);
      lo |= uint32_t(bits);
      hi |= uint32_t(bits >> 32);
    }
#pragma unroll
    for (int x : {1, 2, 16}) {
      lo |= __shfl_xor_sync(0xffffffffu, lo, x);
      hi |= __shfl_xor_sync(0xffffffffu, hi, x);
    }
    const uint64_t cols = uint64_t(lo) | uint64_t(hi) << 32;
    detail::LaneMask64 mk;
#pragma unroll
    for (int i = 0; i < 2; ++i)
      mk.bits[i] = (cols & detail::bit_range64(row_lo[i] * w_ext[1] - base, row_hi[i] * w_ext[1] - base)) >> (2 * tig);
    return mk;
  };

  float o[DT / 8][4];
#pragma unroll
  for (int i = 0; i < DT / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  OnlineSoftmaxRows rows;

  // One chunk of keys [base, base + count) of a list: S = Q K^T over the gathered rows, masks, online
  // softmax, O += P V. k_addr(g) / v_addr(g): this lane's S / P V ldmatrix row address (chunk pair 0) in
  // 16-key group g of the chunk; masks(): the chunk's LaneMask.
  // count: an int, or std::integral_constant for full chunks (no tests of it left in the code).
  auto run_chunk = [&](auto count, auto&& k_addr, auto&& v_addr, auto&& masks) {
    constexpr int kPairs = kUnionChunkKeys / 16;
    float s[2 * kPairs][4];
#pragma unroll
    for (int j = 0; j < 2 * kPairs; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
    for (int jp = 0; jp < kPairs; ++jp) {
      if (16 * jp >= count) break;
      const uint32_t addr = k_addr(jp);
#pragma unroll
      for (int kk = 0; kk < DT / 16; ++kk) {
        uint32_t kb[4];
        ldmatrix_x4(kb, addr ^ (32u * kk));
        const uint32_t b0[2] = {kb[0], kb[1]}, b1[2] = {kb[2], kb[3]};
        mma_16816(Tag{}, s[2 * jp], qf[kk], b0);
        mma_16816(Tag{}, s[2 * jp + 1], qf[kk], b1);
      }
    }
    const auto mk = masks();
    float mx[2] = {kNegInf, kNegInf};
#pragma unroll
    for (int j = 0; j < 2 * kPairs; ++j) {
      if (16 * (j / 2) >= count) break;
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float& x = s[j][e];
        x = mk.keep(j, e) ? x : kNegInf;
        mx[e >> 1] = fmaxf(mx[e >> 1], x);
      }
    }
    float alpha[2], m_use[2];
    rows.update(mx, prm.scale_log2, m_use, alpha);
#pragma unroll
    for (int j = 0; j < 2 * kPairs; ++j) {
      if (16 * (j / 2) >= count) break;
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float pe = exp2_approx(fmaf(s[j][e], prm.scale_log2, -m_use[e >> 1]));
        s[j][e] = pe;
        rows.l[e >> 1] += pe;
      }
    }
    if (!__all_sync(0xffffffffu, alpha[0] == 1.f && alpha[1] == 1.f)) {
#pragma unroll
      for (int i = 0; i < DT / 8; ++i) {
        o[i][0] *= alpha[0];
        o[i][1] *= alpha[0];
        o[i][2] *= alpha[1];
        o[i][3] *= alpha[1];
      }
    }
#pragma unroll
    for (int ks = 0; ks < kPairs; ++ks) {
      if (16 * ks >= count) break;
      uint32_t pa[4];
      pack_a_from_c(Tag{}, pa, s[2 * ks], s[2 * ks + 1]);
      const uint32_t addr = v_addr(ks);
#pragma unroll
      for (int dp = 0; dp < DT / 16; ++dp) {
        uint32_t vb[4];
        ldmatrix_x4_trans(vb, addr ^ (32u * dp));
        const uint32_t b0[2] = {vb[0], vb[1]}, b1[2] = {vb[2], vb[3]};
        mma_16816(Tag{}, o[2 * dp], pa, b0);
        mma_16816(Tag{}, o[2 * dp + 1], pa, b1);
      }
    }
  };

  constexpr int kStride = Split * kUnionChunkKeys;
  // Panel list (Tr::kPanelList and union rows of at most 16 keys): group g is union row g (rows past the union
  // clamp to its last row, whose window test fails). A lane's key column min(key, width - 1) is the same in
  // every group, so are its swizzle and its column window bits (bit 2 jb + e1: column 8 jb + 2 tig + e1).
  // Every chunk is a full 64 keys (the list is padded to whole chunks: k13's interior lists are 4 exactly),
  // so no step of a chunk tests its length.
  if (Tr::kPanelList && w_ext[1] <= Tr::kPanelKeys) {
    const uint32_t pitch = 16u * kChunks * uint32_t(box[1]);  // bytes per union-box row
    auto lane_base = [&](uint32_t smem_base, int key, int chunk) {
      const int c = col_off + min_int(key, w_ext[1] - 1);
      return smem_base + uint32_t(row_off) * pitch + 16u * swizzle<kChunks>(c, chunk);  // panel_unit of row 0, column c
    };
    const uint32_t ks0 = lane_base(k_smem, key_s, chunk_s), vs0 = lane_base(v_smem, key_v, chunk_v);
    uint32_t col_bits = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int c = 8 * (i >> 1) + 2 * tig + (i & 1);
      if (col_lo <= c && c < col_hi) col_bits |= 1u << i;
    }
    const int n_keys = 16 * w_ext[0];
    if (has_rows)
      for (int base = part * kUnionChunkKeys; base < n_keys; base += kStride) {
        const int g0 = base >> 4;
        run_chunk(
            std::integral_constant<int, kUnionChunkKeys>{},
            [&](int jp) { return ks0 + uint32_t(min_int(g0 + jp, w_ext[0] - 1)) * pitch; },
            [&](int jp) { return vs0 + uint32_t(min_int(g0 + jp, w_ext[0] - 1)) * pitch; },
            [&] {
              detail::LaneMask16 mk{{0u, 0u}};
#pragma unroll
              for (int jp = 0; jp < 4; ++jp)
#pragma unroll
                for (int r = 0; r < 2; ++r)
                  if (static_cast<unsigned>(g0 + jp - row_lo[r]) < static_cast<unsigned>(row_hi[r] - row_lo[r]))
                    mk.bits[r] |= col_bits << (4 * jp);
              return mk;
            });
      }
  } else if (has_rows) {
    for (int base = part * kUnionChunkKeys; base < n_row_keys; base += kStride)
      run_chunk(
          min_int(kUnionChunkKeys, n_row_keys - base),
          [&](int jp) { return list_addr(k_smem, base + 16 * jp + key_s, chunk_s); },
          [&](int jp) { return list_addr(v_smem, base + 16 * jp + key_v, chunk_v); }, [&] { return list_masks(base); });
  }

  // ---- additional keys: chunks of the buffers' capacity, seen by every query ----
  const int n_extra = int(p.n_extra);
  for (int e0 = 0; e0 < n_extra; e0 += Tr::kCapKeys) {
    __syncthreads();  // every warp is done with the buffers
    const Elem* const ek = static_cast<const Elem*>(prm.a.extra_k) + (int64_t(b) * n_extra * p.heads_kv + hkv) * dqk;
    const Elem* const ev = static_cast<const Elem*>(prm.a.extra_v) + (int64_t(b) * n_extra * p.heads_kv + hkv) * dv;
    detail::load_linear_tile<Tr::kCapKeys, kChunks, Tr::kThreads, Layout>(k_smem, tid, ek, e0, n_extra, k_row, dqk / 8);
    detail::load_linear_tile<Tr::kCapKeys, kChunks, Tr::kThreads, Layout>(v_smem, tid, ev, e0, n_extra, v_row, dv / 8);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();
    const int in_buf = min_int(Tr::kCapKeys, n_extra - e0);
    auto extra_addr = [&](uint32_t smem_base, int n, int chunk) {
      return smem_base + 16u * Layout::unit(n < in_buf ? n : 0, chunk);
    };
    if (has_rows)
      for (int base = part * kUnionChunkKeys; base < in_buf; base += kStride)
        run_chunk(
            min_int(kUnionChunkKeys, in_buf - base),
            [&](int jp) { return extra_addr(k_smem, base + 16 * jp + key_s, chunk_s); },
            [&](int jp) { return extra_addr(v_smem, base + 16 * jp + key_v, chunk_v); },
            [&] {
              const uint64_t keep = detail::bit_range64(0, in_buf - base) >> (2 * tig);
              return detail::LaneMask64{{keep, keep}};
            });
  }

  // ---- split merge: the second warp of each box hands (m, l, O) to the first through the K buffer ----
  if constexpr (Split == 2) {
    float4* const xo = reinterpret_cast<float4*>(smem + Tr::kQUnits);  // [box][DT / 8][lane], then [box][lane]
    float4* const xml = xo + Tr::kBoxes * (DT / 8) * 32;
    __syncthreads();  // every warp is done with the K/V buffers
    if (part == 1) {
#pragma unroll
      for (int i = 0; i < DT / 8; ++i)
        xo[(box_id * (DT / 8) + i) * 32 + lane] = make_float4(o[i][0], o[i][1], o[i][2], o[i][3]);
      xml[box_id * 32 + lane] = make_float4(rows.m[0], rows.m[1], rows.l[0], rows.l[1]);
    }
    __syncthreads();
    if (part == 1) return;
    const float4 ml = xml[box_id * 32 + lane];
    const float m1[2] = {ml.x, ml.y}, l1[2] = {ml.z, ml.w};
    float a0[2], a1[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float m_new = fmaxf(rows.m[r], m1[r]);
      const float m_use = m_new == -CUDART_INF_F ? 0.f : m_new;  // no key in either part: both factors 0
      a0[r] = exp2_approx(rows.m[r] - m_use);
      a1[r] = exp2_approx(m1[r] - m_use);
      rows.m[r] = m_new;
      rows.l[r] = rows.l[r] * a0[r] + l1[r] * a1[r];
    }
#pragma unroll
    for (int i = 0; i < DT / 8; ++i) {
      const float4 x = xo[(box_id * (DT / 8) + i) * 32 + lane];
      o[i][0] = o[i][0] * a0[0] + x.x * a1[0];
      o[i][1] = o[i][1] * a0[0] + x.y * a1[0];
      o[i][2] = o[i][2] * a0[1] + x.z * a1[1];
      o[i][3] = o[i][3] * a0[1] + x.w * a1[1];
    }
  }

  // ---- epilogue: O / l and LSE; O staged through this warp's own Q rows for 16-byte stores ----
  float inv[2], lse[2];
  rows.finish(inv, lse);
  uint32_t* const stage_o = reinterpret_cast<uint32_t*>(s_q);
  __syncwarp();  // the warp's lanes are done reading its Q rows (ldmatrix) before any lane overwrites them
#pragma unroll
  for (int i = 0; i < DT / 8; ++i) {
    const int r0 = box_id * 16 + grp;
    stage_o[swizzle<kChunks>(r0, i) * 4 + tig] = pack2(Tag{}, o[i][0] * inv[0], o[i][1] * inv[0]);
    stage_o[swizzle<kChunks>(r0 + 8, i) * 4 + tig] = pack2(Tag{}, o[i][2] * inv[1], o[i][3] * inv[1]);
  }
  __syncwarp();
  // Token of query row n of the tile, or -1 past the edge of the feature map.
  auto token_at = [&](int n) -> int64_t {
    const int c0 = q0[0] + QTile::coord(n, 0), c1 = q0[1] + QTile::coord(n, 1);
    if (c0 >= ax[0].lg || c1 >= ax[1].lg) return -1;
    return detail::token_of(p, b, ax[0].global(c0), ax[1].global(c1), 0);
  };
  Elem* const out = static_cast<Elem*>(prm.a.out);
#pragma unroll
  for (int idx = lane; idx < 16 * kChunks; idx += 32) {
    const int n = box_id * 16 + idx / kChunks, ch = idx % kChunks;
    if (ch >= dv / 8) continue;
    const int64_t tok = token_at(n);
    if (tok >= 0) *reinterpret_cast<uint4*>(out + (tok * p.heads + h) * dv + ch * 8) = s_q[swizzle<kChunks>(n, ch)];
  }
  if (tig == 0 && prm.a.lse != nullptr) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int64_t tok = token_at(box_id * 16 + grp + 8 * r);
      if (tok >= 0) prm.a.lse[tok * p.heads + h] = lse[r];
    }
  }
}

}  // namespace natten::fused
