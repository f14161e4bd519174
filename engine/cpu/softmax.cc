// Row softmax over the last axis and its backward, fp32 math; -inf entries give 0 and a row of only
// -inf gives zeros (the convention of the unfused NA chain, where short causal windows hold -inf).
#include <math.h>

#include <vector>

#include "elem_io.h"
#include "engine.h"
#include "parallel.h"

namespace natten::cpu {

void softmax(DType t, const SoftmaxArgs& a) {
  const int64_t C = a.cols;
  parallel_for(a.rows, 64, [&](int64_t begin, int64_t end) {
    std::vector<float> row((size_t)C);
    for (int64_t r = begin; r < end; ++r) {
      load_row(a.x, t, (size_t)(r * C), C, row.data());
      float m = -INFINITY;
      for (int64_t c = 0; c < C; ++c) m = row[c] > m ? row[c] : m;
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
      for (int64_t c = 0; c < C; ++c) dot += y[c] * dy[c];
      for (int64_t c = 0; c < C; ++c) dy[c] = y[c] * (dy[c] - dot);
      store_row(a.dx, t, (size_t)(r * C), C, dy.data());
    }
  });
}

}  // namespace natten::cpu
