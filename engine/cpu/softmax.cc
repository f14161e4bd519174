// Row softmax over the last axis and its backward, in the compute type Real (fp32 math, fp64 for float64).
//   forward:  -inf entries give 0 and a row of only -inf gives zeros (the convention of the unfused NA
//             chain, where short causal windows hold -inf); a NaN anywhere in a row makes the whole row
//             NaN (as PyTorch), and so does +inf (exp(inf - inf) is NaN).
//   backward: dx = y * (dy - sum(dy * y)) over the entries with y != 0; exactly 0 where y == 0 (masked
//             positions stay masked, whatever dy holds there), as the CUDA kernel.
#include <cmath>
#include <vector>

#include "elem_io.h"
#include "engine.h"
#include "parallel.h"
#include "real_view.h"

namespace natten::cpu::NATTEN_SIMD {
namespace {

template <class Real>
void softmax_rows(DType t, const SoftmaxArgs& a) {
  const int64_t C = a.cols;
  parallel_for(a.rows, 64, [&](int64_t begin, int64_t end) {
    std::vector<Real> row((size_t)C);
    for (int64_t r = begin; r < end; ++r) {
      load_row(a.x, t, (size_t)(r * C), C, row.data());
      // Max that keeps a NaN (x > m alone would skip it): a row of NaN and -inf must not pass for a
      // fully masked row.
      Real m = -INFINITY;
      for (int64_t c = 0; c < C; ++c) m = row[c] > m || row[c] != row[c] ? row[c] : m;
      if (m == -INFINITY) {
        std::fill(row.begin(), row.end(), Real(0));
      } else {
        Real sum = 0;
        for (int64_t c = 0; c < C; ++c) sum += (row[c] = std::exp(row[c] - m));
        const Real inv = Real(1) / sum;
        for (int64_t c = 0; c < C; ++c) row[c] *= inv;
      }
      store_row(a.y, t, (size_t)(r * C), C, row.data());
    }
  });
}

template <class Real>
void softmax_backward_rows(DType t, const SoftmaxBackwardArgs& a) {
  const int64_t C = a.cols;
  parallel_for(a.rows, 64, [&](int64_t begin, int64_t end) {
    std::vector<Real> y((size_t)C), dy((size_t)C);
    for (int64_t r = begin; r < end; ++r) {
      load_row(a.y, t, (size_t)(r * C), C, y.data());
      load_row(a.dy, t, (size_t)(r * C), C, dy.data());
      Real dot = 0;
      for (int64_t c = 0; c < C; ++c) dot += y[c] != 0 ? y[c] * dy[c] : Real(0);
      for (int64_t c = 0; c < C; ++c) dy[c] = y[c] != 0 ? y[c] * (dy[c] - dot) : Real(0);
      store_row(a.dx, t, (size_t)(r * C), C, dy.data());
    }
  });
}

}  // namespace

void softmax(DType t, const SoftmaxArgs& a) {
  with_compute_type(t, [&](auto real) { softmax_rows<decltype(real)>(t, a); });
}

void softmax_backward(DType t, const SoftmaxBackwardArgs& a) {
  with_compute_type(t, [&](auto real) { softmax_backward_rows<decltype(real)>(t, a); });
}

}  // namespace natten::cpu::NATTEN_SIMD
