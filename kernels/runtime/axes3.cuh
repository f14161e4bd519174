// Three-axis view of a 1/2/3-D problem: the spatial axes are right-aligned onto axes 0..2 and the unused
// leading axes get length 1 and kernel 1 (a window of exactly the query itself). Token numbering
// (row-major over the axes) and window-position numbering (row-major over the kernel) are unchanged, so
// kernels loop over three axes without branching on the number of dimensions.
#pragma once
#include <stdint.h>

#include "../common/problem.h"

namespace natten::cuda {

inline NaProblem as_3d(const NaProblem& p) {
  NaProblem q = p;
  const int shift = kMaxDims - p.dims;
  for (int a = 0; a < kMaxDims; ++a) {
    const int src = a - shift;
    const bool used = src >= 0;
    q.length[a] = used ? p.length[src] : 1;
    q.kernel[a] = used ? p.kernel[src] : 1;
    q.stride[a] = used ? p.stride[src] : 1;
    q.dilation[a] = used ? p.dilation[src] : 1;
    q.causal[a] = used ? p.causal[src] : false;
  }
  q.dims = kMaxDims;
  return q;
}

/// Token index (row-major over the three axes) of global coordinates x.
NATTEN_HD int64_t token_of(const NaProblem& p, int x0, int x1, int x2) {
  return ((int64_t)x0 * p.length[1] + x1) * p.length[2] + x2;
}

/// Global coordinates of a token index.
NATTEN_HD void coords_of(const NaProblem& p, int64_t token, int x[3]) {
  x[2] = (int)(token % p.length[2]);
  token /= p.length[2];
  x[1] = (int)(token % p.length[1]);
  x[0] = (int)(token / p.length[1]);
}

/// Window of group-local query iq on axis a, for dilation group g.
NATTEN_HD Range group_window(const NaProblem& p, int a, int g, int iq) {
  return local_window(iq, group_length(p.length[a], p.dilation[a], g), p.kernel[a], p.stride[a], p.causal[a]);
}

/// Group-local queries (of dilation group g) whose window contains group-local key jk on axis a.
NATTEN_HD Range group_inverse_window(const NaProblem& p, int a, int g, int jk) {
  return local_inverse_window(jk, group_length(p.length[a], p.dilation[a], g), p.kernel[a], p.stride[a], p.causal[a]);
}

}  // namespace natten::cuda
