// The tokens of a query's window, from the kernels' own axis_window (kernels/common/window.h): what the
// fp64 references of the fused-kernel harnesses (check_backward.cu on a GPU, emu/ on the CPU) sum over.
#pragma once
#include <cstdint>
#include <vector>
#include "../../kernels/common/problem.h"
#include "../../kernels/common/window.h"

namespace natten {

/// Row-major keys (token indices) of token `tok`'s window: its dilation group, every axis inside the window.
inline std::vector<int64_t> window_keys(const NaProblem& p, int64_t tok) {
  int coord[3] = {0, 0, 0};
  int64_t rest = tok;
  for (int a = p.dims - 1; a >= 0; --a) {
    coord[a] = (int)(rest % p.length[a]);
    rest /= p.length[a];
  }
  std::vector<int64_t> keys{0};
  for (int a = 0; a < p.dims; ++a) {
    const AxisParams ax = p.axis(a);
    const Range r = axis_window(ax, coord[a]);
    const int g = coord[a] % ax.dilation;
    std::vector<int64_t> next;
    for (int64_t base : keys)
      for (int j = r.start; j < r.end; ++j) next.push_back(base * p.length[a] + j * ax.dilation + g);
    keys.swap(next);
  }
  return keys;
}

}  // namespace natten
