// Merging partial attentions computed over disjoint key sets (e.g. a window pass and a pass over extra
// keys): weights exp(lse_i - lse) with lse = log(sum_i exp(lse_i)), max-shifted for stability.
#include <math.h>

#include <vector>

#include "elem_io.h"
#include "engine.h"
#include "parallel.h"

namespace natten::cpu::NATTEN_SIMD {

void merge_attentions(DType t, int n, const void* const* outs, const float* const* lses, int64_t rows, int64_t dv,
                      void* out, float* lse) {
  parallel_for(rows, 64, [&](int64_t begin, int64_t end) {
    std::vector<float> acc((size_t)dv), part((size_t)dv), w((size_t)n);
    for (int64_t r = begin; r < end; ++r) {
      float m = -INFINITY;
      for (int i = 0; i < n; ++i) m = lses[i][r] > m ? lses[i][r] : m;
      std::fill(acc.begin(), acc.end(), 0.f);
      if (m == -INFINITY) {  // no part saw any key: output 0, lse -inf
        store_row(out, t, (size_t)(r * dv), dv, acc.data());
        lse[r] = -INFINITY;
        continue;
      }
      float sum = 0.f;
      for (int i = 0; i < n; ++i) sum += (w[i] = expf(lses[i][r] - m));
      for (int i = 0; i < n; ++i) {
        if (w[i] == 0.f) continue;
        load_row(outs[i], t, (size_t)(r * dv), dv, part.data());
        const float f = w[i] / sum;
        for (int64_t c = 0; c < dv; ++c) acc[c] += f * part[c];
      }
      store_row(out, t, (size_t)(r * dv), dv, acc.data());
      lse[r] = m + logf(sum);
    }
  });
}

}  // namespace natten::cpu::NATTEN_SIMD
