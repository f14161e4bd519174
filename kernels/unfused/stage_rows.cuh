// Staging of token rows into shared memory for the unfused kernels: channels [c0, c0 + width) of each
// row, converted to fp32, as dst[row * stride + channel]; the two row sets the kernels stage (a box of
// tile rows, the key union of a window block) and the 8-channel update of their inner loops. A thread moves 8 channels
// of a row at a time with one 16-byte load where the rows are 16-byte aligned (channels * sizeof(T) a multiple of 16),
// element by element otherwise; channels past the end and rows that do not exist are staged as zeros.
#pragma once
#include <stdint.h>

#include "../runtime/element.cuh"
#include "tile_grid.cuh"

namespace natten::unfused {

/// Exact floor(r / n) for 0 <= r < 2^22 from a float reciprocal inv = 1 / n (cheaper than an integer
/// division; the +0.5 keeps the product inside (q, q + 1) despite float rounding).
__device__ __forceinline__ int div_small(int r, float inv) { return (int)(((float)r + 0.5f) * inv); }

/// `width` (2^width_log2) must be a multiple of 8 and `stride` a multiple of 4; row_offset(r, dst_row)
/// returns the element offset of row r's channel 0 in src, or -1 for a row that does not exist, and may
/// set dst_row (default r), the shared-memory row it goes to.
template <typename T, typename RowOffset>
__device__ __forceinline__ void stage_rows(float* dst, int stride, int rows, int width_log2, const T* src,
                                           int64_t channels, int64_t c0, bool vector_ok, RowOffset&& row_offset) {
  const int per_row_log2 = width_log2 - 3;  // threads per row, 8 channels each
  const int total = rows << per_row_log2;
  for (int idx = threadIdx.x; idx < total; idx += blockDim.x) {
    const int r = idx >> per_row_log2;
    const int c8 = (idx & ((1 << per_row_log2) - 1)) * 8;
    int dst_row = r;
    const int64_t off = row_offset(r, dst_row);
    float v[8];
    if (off >= 0 && vector_ok && c0 + c8 + 8 <= channels) {
      cuda::load8(src + off + c0 + c8, v);
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) v[i] = off >= 0 && c0 + c8 + i < channels ? cuda::ld(src + off + c0 + c8 + i) : 0.f;
    }
    float4* d = reinterpret_cast<float4*>(dst + dst_row * stride + c8);
    d[0] = make_float4(v[0], v[1], v[2], v[3]);
    d[1] = make_float4(v[4], v[5], v[6], v[7]);
  }
}

/// Stages the rows of a box of positions (box_row_offset: origin `first`, `count` positions per axis, extents
/// 2^l1 and 2^l2 on axes 1 and 2), `rows` rows in all: rows past `count` are zeros.
template <typename T>
__device__ __forceinline__ void stage_box_rows(float* dst, int stride, int rows, int width_log2, const T* src,
                                               int64_t channels, int64_t c0, bool vector_ok, const NaProblem& p,
                                               const int g[3], const int first[3], const int count[3], int l1, int l2) {
  stage_rows(dst, stride, rows, width_log2, src, channels, c0, vector_ok,
             [&](int q, int&) -> int64_t { return box_row_offset(p, g, first, count, l1, l2, q, channels); });
}

/// Stages the union of keys [u0, u0 + un) (group-local, per axis) that a CTA's window block reaches, as
/// shared row (i0 * un[1] + i1) * key_row + i2; inv1 = 1 / un[1] and inv2 = 1 / un[2] (for div_small).
template <typename T>
__device__ __forceinline__ void stage_key_union(float* dst, int stride, int width_log2, const T* src, int64_t channels,
                                                int64_t c0, bool vector_ok, const NaProblem& p, const int g[3],
                                                const int u0[3], const int un[3], int key_row, float inv1, float inv2) {
  stage_rows(dst, stride, un[0] * un[1] * un[2], width_log2, src, channels, c0, vector_ok,
             [&](int r, int& dst_row) -> int64_t {
               const int i01 = div_small(r, inv2), i2 = r - i01 * un[2];
               const int i0 = div_small(i01, inv1), i1 = i01 - i0 * un[1];
               dst_row = i01 * key_row + i2;
               return local_token(p, g, u0[0] + i0, u0[1] + i1, u0[2] + i2) * channels;
             });
}

/// acc[c] += w * (xa, xb)[c] for the 8 channels of a staged row (xa: channels 0-3, xb: 4-7).
__device__ __forceinline__ void axpy8(float (&acc)[8], float w, const float4& xa, const float4& xb) {
  acc[0] += w * xa.x;
  acc[1] += w * xa.y;
  acc[2] += w * xa.z;
  acc[3] += w * xa.w;
  acc[4] += w * xb.x;
  acc[5] += w * xb.y;
  acc[6] += w * xb.z;
  acc[7] += w * xb.w;
}

/// True when rows of `channels` elements starting at `base` can be loaded 8 elements at a time.
template <typename T>
inline bool rows_vectorizable(const T* base, int64_t channels) {
  return (channels * (int64_t)sizeof(T)) % 16 == 0 && reinterpret_cast<uintptr_t>(base) % 16 == 0;
}

}  // namespace natten::unfused
