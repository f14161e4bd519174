// Layout permutes and scaling for running the unfused chain from the fused layout (see layout.cu).
#pragma once
#include <stdint.h>
#include "../common/dtype.h"

namespace natten::unfused {

/// dst[b, h, n, c] = src[b, n, h * Hs / H, c] (fused [B, N, Hs, C] -> unfused [B, H, N, C]); Hs divides H.
void fused_to_unfused(int device, DType t, int64_t B, int64_t N, int64_t H, int64_t Hs, int64_t C, const void* src,
                      void* dst);
/// dst[b, n, h, c] = sum of src[b, g, n, c] over heads g mapping to h (unfused [B, Hs, N, C] -> fused [B, N, H, C]).
void unfused_to_fused(int device, DType t, int64_t B, int64_t N, int64_t Hs, int64_t H, int64_t C, const void* src,
                      void* dst);
/// dst = src * factor.
void scale(int device, DType t, int64_t n, const void* src, void* dst, double factor);

}  // namespace natten::unfused
