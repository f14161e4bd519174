// Element-wise helpers of the unfused chain and of tests: layout permutes between the fused
// [B, N, H, C] and unfused [B, H, N, C] layouts (with GQA head repetition / reduction), scaling, fill.
#include <string.h>

#include <vector>

#include "elem_io.h"
#include "engine.h"
#include "parallel.h"
#include "real_view.h"

namespace natten::cpu::NATTEN_SIMD {

void fused_to_unfused(DType t, int64_t B, int64_t N, int64_t H, int64_t Hsrc, int64_t C, const void* src, void* dst) {
  const size_t es = (size_t)dtype_size(t), row = (size_t)C * es;
  parallel_for(B * H * N, 256, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t n = i % N, bh = i / N, h = bh % H, b = bh / H;
      const int64_t hs = h * Hsrc / H;
      memcpy(static_cast<char*>(dst) + (size_t)i * row,
             static_cast<const char*>(src) + (size_t)(((b * N + n) * Hsrc + hs) * C) * es, row);
    }
  });
}

namespace {

/// unfused_to_fused with head sums in the compute type Real (fp32 math, fp64 for float64).
template <class Real>
void unfused_to_fused_as(DType t, int64_t B, int64_t N, int64_t Hsrc, int64_t H, int64_t C, const void* src,
                         void* dst) {
  const size_t es = (size_t)dtype_size(t), row = (size_t)C * es;
  parallel_for(B * N * H, 256, [&](int64_t begin, int64_t end) {
    std::vector<Real> acc((size_t)C), part((size_t)C);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t h = i % H, bn = i / H, n = bn % N, b = bn / N;
      if (Hsrc == H) {
        memcpy(static_cast<char*>(dst) + (size_t)i * row,
               static_cast<const char*>(src) + (size_t)(((b * Hsrc + h) * N + n) * C) * es, row);
        continue;
      }
      // Source heads g with g * H / Hsrc == h: the contiguous range [ceil(h*Hsrc/H), ceil((h+1)*Hsrc/H)).
      std::fill(acc.begin(), acc.end(), Real(0));
      for (int64_t g = (h * Hsrc + H - 1) / H; g < ((h + 1) * Hsrc + H - 1) / H; ++g) {
        load_row(src, t, (size_t)(((b * Hsrc + g) * N + n) * C), C, part.data());
        for (int64_t c = 0; c < C; ++c) acc[c] += part[c];
      }
      store_row(dst, t, (size_t)(i * C), C, acc.data());
    }
  });
}

}  // namespace

void unfused_to_fused(DType t, int64_t B, int64_t N, int64_t Hsrc, int64_t H, int64_t C, const void* src, void* dst) {
  with_compute_type(t, [&](auto real) { unfused_to_fused_as<decltype(real)>(t, B, N, Hsrc, H, C, src, dst); });
}

void scale(DType t, int64_t n, const void* src, void* dst, double factor) {
  parallel_for(n, 1 << 14, [&](int64_t begin, int64_t end) {
    if (t == DType::Float64) {
      const double* s = static_cast<const double*>(src);
      double* d = static_cast<double*>(dst);
      for (int64_t i = begin; i < end; ++i) d[i] = s[i] * factor;
      return;
    }
    const float f = (float)factor;
    for (int64_t i = begin; i < end; ++i) store_f32(dst, t, (size_t)i, load_f32(src, t, (size_t)i) * f);
  });
}

void fill(DType t, int64_t n, void* dst, double value) {
  char one[8];
  store_element(one, t, 0, value);
  const size_t es = (size_t)dtype_size(t);
  parallel_for(n, 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) memcpy(static_cast<char*>(dst) + (size_t)i * es, one, es);
  });
}

}  // namespace natten::cpu::NATTEN_SIMD
