// A measured fp32 FMA peak for the benchmark's "% of peak" column: every thread of the pool runs
// independent 16-lane FMA chains (enough of them to cover the FMA latency) until a common deadline.
#include <atomic>
#include <chrono>

#include "engine.h"
#include "parallel.h"
#include "vec.h"

namespace natten::cpu::NATTEN_SIMD {

double fma_peak_gflops(int ms) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const auto deadline = start + std::chrono::milliseconds(ms);
  std::atomic<int64_t> flops{0};
  const int n = num_threads();
  parallel_for(n, 1, [&](int64_t begin, int64_t end) {
    vf acc[12];
    for (int i = 0; i < 12; ++i) acc[i] = vset(1.f + 1e-7f * (float)i);
    const vf mul = vset(0.9999999f), add = vset(1e-7f);
    int64_t done = 0;
    while (clock::now() < deadline) {
      for (int rep = 0; rep < 4096; ++rep)
        for (int i = 0; i < 12; ++i) acc[i] = acc[i] * mul + add;
      done += 4096LL * 12 * kLanes * 2;
    }
    float sink = 0.f;
    for (int i = 0; i < 12; ++i) sink += acc[i][0];
    if (sink == 12345.f) done += 1;  // keeps the chains alive
    flops += done;
  });
  const double sec = std::chrono::duration<double>(clock::now() - start).count();
  return (double)flops.load() / sec / 1e9;
}

}  // namespace natten::cpu::NATTEN_SIMD
