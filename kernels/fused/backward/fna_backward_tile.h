// Device helpers of the fused backward kernels: where the rows of a multi-dimensional tile live in the
// [B, X, Y, Z, H, D] tensors, and the element masks of tile pairs that are not interior.
//
// A tile of shape t = (t0, t1, t2) has t0*t1*t2 rows in row-major order (last axis fastest, like the
// tokens). Its per-axis offsets are precomputed once per CTA into a shared table of packed bytes, so the
// hot loops never divide by a runtime tile extent.
#pragma once
#include <stdint.h>
#include "fna_backward_params.h"
#include "../../common/tile_window.h"

namespace natten::fused {

/// Per-axis offsets (each < 256) of row r of a tile of shape t, packed one byte per axis.
NATTEN_HD uint32_t pack_tile_row(int r, const int (&t)[kMaxDims]) {
  const int r2 = r % t[2];
  r /= t[2];
  const int r1 = r % t[1];
  const int r0 = r / t[1];
  return (uint32_t)r0 | ((uint32_t)r1 << 8) | ((uint32_t)r2 << 16);
}

NATTEN_HD int tile_row_offset(uint32_t packed, int axis) { return (int)((packed >> (8 * axis)) & 0xffu); }

/// Group-local coordinates of row `packed` of the tile at origin o.
__device__ __forceinline__ void tile_row_coords(const int (&o)[kMaxDims], uint32_t packed, int (&c)[kMaxDims]) {
#pragma unroll
  for (int a = 0; a < kMaxDims; ++a) c[a] = o[a] + tile_row_offset(packed, a);
}

/// decode_slots() for the padded 3-D problem with the axis loop unrolled (no local-memory array).
__device__ __forceinline__ void decode_slots_3d(const NaProblem& p, const int (&t)[kMaxDims], int64_t linear,
                                                AxisSlot (&out)[kMaxDims]) {
#pragma unroll
  for (int a = kMaxDims - 1; a >= 0; --a) {
    const int n = axis_slots(p.length[a], p.dilation[a], t[a]);
    out[a] = decode_slot((int)(linear % n), p.length[a], p.dilation[a], t[a]);
    linear /= n;
  }
}

/// The three axes of the dilation group a CTA works in (problems are padded to 3-D, see params).
struct GroupAxes {
  GroupAxis ax[kMaxDims];

  /// Token index (row-major over the full spatial shape) of group-local coordinates c, or -1 when c lies
  /// past the group's end on some axis (a padding row of a partial tile).
  __device__ __forceinline__ int64_t token(const NaProblem& p, const int (&c)[kMaxDims]) const {
    int64_t tok = 0;
#pragma unroll
    for (int a = 0; a < kMaxDims; ++a) {
      if (c[a] >= ax[a].lg) return -1;
      tok = tok * p.length[a] + ax[a].global(c[a]);
    }
    return tok;
  }

  /// Token of row `packed` of the tile with group-local origin o.
  __device__ __forceinline__ int64_t row_token(const NaProblem& p, const int (&o)[kMaxDims], uint32_t packed) const {
    int c[kMaxDims];
#pragma unroll
    for (int a = 0; a < kMaxDims; ++a) c[a] = o[a] + tile_row_offset(packed, a);
    return token(p, c);
  }

  /// Mask over the rows of the KV tile at ko (shape kt, rows row-major) of the keys inside the window
  /// `win` (per axis, group-local): bit j set iff row j's key lies in the window on every axis. Built from
  /// one bit range per axis, spread over the row-major layout: a few shifts per axis row, not 64 tests.
  static NATTEN_HD uint64_t window_rows(const Range (&win)[kMaxDims], const int (&ko)[kMaxDims],
                                        const int (&kt)[kMaxDims]) {
    int lo[kMaxDims], hi[kMaxDims];
    for (int a = 0; a < kMaxDims; ++a) {
      lo[a] = min_int(max_int(win[a].start - ko[a], 0), kt[a]);
      hi[a] = min_int(max_int(win[a].end - ko[a], 0), kt[a]);
      if (hi[a] <= lo[a]) return 0;
    }
    // Axis 2 (fastest): a run of bits. Axis 1: copies of it every kt[2] rows. Axis 0: copies of that
    // plane every kt[1]*kt[2] rows. A plane of one row (1-D) is just axis 0's run.
    const uint64_t line = bit_run(lo[2], hi[2]);
    uint64_t plane = 0;
    if (kt[2] == 1) plane = bit_run(lo[1], hi[1]);
    else
      for (int j = lo[1]; j < hi[1]; ++j) plane |= line << (j * kt[2]);
    const int pw = kt[1] * kt[2];
    if (pw == 1) return bit_run(lo[0], hi[0]);
    uint64_t full = 0;
    for (int j = lo[0]; j < hi[0]; ++j) full |= plane << (j * pw);
    return full;
  }

  /// Windows (group-local, per axis) of the query at group-local coordinates c; false for a padding row.
  __device__ __forceinline__ bool windows(const int (&c)[kMaxDims], Range (&win)[kMaxDims]) const {
    bool ok = true;
#pragma unroll
    for (int a = 0; a < kMaxDims; ++a) {
      ok = ok && c[a] < ax[a].lg;
      win[a] = ax[a].window(c[a] < ax[a].lg ? c[a] : ax[a].lg - 1);
    }
    return ok;
  }

  static NATTEN_HD int max_int(int a, int b) { return a > b ? a : b; }
  /// Bits [lo, hi) of a 64-bit word (0 <= lo < hi <= 64).
  static NATTEN_HD uint64_t bit_run(int lo, int hi) {
    const uint64_t upto = hi >= 64 ? ~0ull : ((1ull << hi) - 1);
    return upto & ~((1ull << lo) - 1);
  }
};

/// Lane-dependent ldmatrix row/column offsets of the four 8x8 matrices of an x4 load.
///   `a_frag`: matrices ordered (rows 0-7, cols 0-7), (rows 8-15, cols 0-7), (rows 0-7, cols 8-15),
///   (rows 8-15, cols 8-15): the A operand (and, with .trans, a k16 x n16 B pair).
///   `b_frag`: (rows 0-7, cols 0-7), (rows 0-7, cols 8-15), (rows 8-15, cols 0-7), (rows 8-15, cols 8-15):
///   two n8 B operands read from an n-major (row = n, col = k) tile without .trans.
struct LdmOffsets {
  int row;
  int col;
};
__device__ __forceinline__ LdmOffsets ldm_a_offsets(int lane) {
  const int m = lane >> 3;
  return {(m & 1) * 8 + (lane & 7), (m >> 1) * 8};
}
__device__ __forceinline__ LdmOffsets ldm_b_offsets(int lane) {
  const int m = lane >> 3;
  return {(m >> 1) * 8 + (lane & 7), (m & 1) * 8};
}

/// Element offset of (batch b, token tok, head h) in a [B, N, heads, dim] tensor.
__device__ __forceinline__ int64_t row_offset(int64_t b, int64_t tok, int64_t tokens, int64_t heads, int64_t h,
                                              int64_t dim) {
  return ((b * tokens + tok) * heads + h) * dim;
}

}  // namespace natten::fused
