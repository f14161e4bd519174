// Merging partial attentions computed over disjoint key sets (e.g. a window pass and a pass over extra
// keys): weights exp(lse_i - lse) with lse = log(sum_i exp(lse_i)), max-shifted for stability. Outputs are
// combined in the compute type Real (fp32 math, fp64 for float64); the LSEs are float32 (docs/design.md §5).
#include <cmath>
#include <vector>

#include "elem_io.h"
#include "engine.h"
#include "parallel.h"
#include "real_view.h"

namespace natten::cpu::NATTEN_SIMD {
namespace {

template <class Real>
void merge(DType t, int n, const void* const* outs, const float* const* lses, int64_t rows, int64_t dv, void* out,
           float* lse) {
  parallel_for(rows, 64, [&](int64_t begin, int64_t end) {
    std::vector<Real> acc((size_t)dv), part((size_t)dv), w((size_t)n);
    for (int64_t r = begin; r < end; ++r) {
      Real m = -INFINITY;
      for (int i = 0; i < n; ++i) m = lses[i][r] > m ? lses[i][r] : m;
      std::fill(acc.begin(), acc.end(), Real(0));
      if (m == -INFINITY) {  // no part saw any key: output 0, lse -inf
        store_row(out, t, (size_t)(r * dv), dv, acc.data());
        lse[r] = -INFINITY;
        continue;
      }
      Real sum = 0;
      for (int i = 0; i < n; ++i) sum += (w[i] = std::exp(lses[i][r] - m));
      for (int i = 0; i < n; ++i) {
        if (w[i] == 0) continue;
        load_row(outs[i], t, (size_t)(r * dv), dv, part.data());
        const Real f = w[i] / sum;
        for (int64_t c = 0; c < dv; ++c) acc[c] += f * part[c];
      }
      store_row(out, t, (size_t)(r * dv), dv, acc.data());
      lse[r] = (float)(m + std::log(sum));
    }
  });
}

}  // namespace

void merge_attentions(DType t, int n, const void* const* outs, const float* const* lses, int64_t rows, int64_t dv,
                      void* out, float* lse) {
  with_compute_type(t, [&](auto real) { merge<decltype(real)>(t, n, outs, lses, rows, dv, out, lse); });
}

}  // namespace natten::cpu::NATTEN_SIMD
