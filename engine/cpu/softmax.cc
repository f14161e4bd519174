// Row softmax over the last axis and its backward, fp32 math.
//   forward:  -inf entries give 0 and a row of only -inf gives zeros (the convention of the unfused NA
//             chain, where short causal windows hold -inf); a NaN anywhere in a row makes the whole row
//             NaN (as PyTorch), and so does +inf (exp(inf - inf) is NaN).
//   backward: dx = y * (dy - sum(dy * y)) over the entries with y != 0; exactly 0 where y == 0 (masked
//             positions stay masked, whatever dy holds there), as the CUDA kernel.
#include <math.h>

#include <vector>

#include "elem_io.h"
#include "engine.h"
#include "parallel.h"

namespace natten::cpu::NATTEN_SIMD {

void softmax(DType t, const SoftmaxArgs& a) {
  const int64_t C = a.cols;
  parallel_for(a.rows, 64, [&](int64_t begin, int64_t end) {
    std::vector<float> row((size_t)C);
    for (int64_t r = begin; r < end; ++r) {
      load_row(a.x, t, (size_t)(r * C), C, row.data());
      // Max that keeps a NaN (x > m alone would skip it): a row of NaN and -inf must not pass for a
      // fully masked row.
      float m = -INFINITY;
      for (int64_t c = 0; c < C; ++c) m = row[c] > m || row[c] != row[c] ? row[c] : m;
      if (m == -INFINITY) {
        std::fill(row.begin(), row.end(), 0.f);
      } else {
        float sum = 0.f;
        for (int64_t c = 0; c < C; ++c) sum += (row[c] = expf(row[c] - m));
        const float inv = 1.f / sum;
        for (int64_t c = 0; c < C; ++c) row[c] *= inv;
      }
      store_row(a.y, t, (size_t)(r * C), C, row.data());
    }
  });
}

void softmax_backward(DType t, const SoftmaxBackwardArgs& a) {
  const int64_t C = a.cols;
  parallel_for(a.rows, 64, [&](int64_t begin, int64_t end) {
    std::vector<float> y((size_t)C), dy((size_t)C);
    for (int64_t r = begin; r < end; ++r) {
      load_row(a.y, t, (size_t)(r * C), C, y.data());
      load_row(a.dy, t, (size_t)(r * C), C, dy.data());
      float dot = 0.f;
      for (int64_t c = 0; c < C; ++c) dot += y[c] != 0.f ? y[c] * dy[c] : 0.f;
      for (int64_t c = 0; c < C; ++c) dy[c] = y[c] != 0.f ? y[c] * (dy[c] - dot) : 0.f;
      store_row(a.dx, t, (size_t)(r * C), C, dy.data());
    }
  });
}

}  // namespace natten::cpu::NATTEN_SIMD
