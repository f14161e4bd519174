// Staging of token rows into shared memory for the unfused kernels: channels [c0, c0 + width) of each
// row, converted to fp32, as dst[row * stride + channel]. A thread moves 8 channels of a row at a time
// with one 16-byte load where the rows are 16-byte aligned (channels * sizeof(T) a multiple of 16),
// element by element otherwise; channels past the end and rows that do not exist are staged as zeros.
#pragma once
#include <stdint.h>

#include "../runtime/element.cuh"

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

/// True when rows of `channels` elements starting at `base` can be loaded 8 elements at a time.
template <typename T>
inline bool rows_vectorizable(const T* base, int64_t channels) {
  return (channels * (int64_t)sizeof(T)) % 16 == 0 && reinterpret_cast<uintptr_t>(base) % 16 == 0;
}

}  // namespace natten::unfused
