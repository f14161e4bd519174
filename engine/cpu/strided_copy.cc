// The layout copies of the tensor ops (permute, contiguous slices, concatenation; docs/design.md §6): a
// strided copy between two buffers of one dtype. The innermost axis runs as a memcpy when it is contiguous
// in both tensors, else element by element; the outer indices are spread over the engine's threads.
#include <string.h>

#include "../../kernels/common/tensor_args.h"
#include "engine.h"
#include "parallel.h"

namespace natten::cpu::NATTEN_SIMD {
namespace {

/// Copies `n` elements of `es` bytes, src and dst `ss` / `ds` elements apart.
void copy_run(const char* src, char* dst, int64_t n, int64_t ss, int64_t ds, size_t es) {
  if (ss == 1 && ds == 1) {
    memcpy(dst, src, (size_t)n * es);
    return;
  }
  for (int64_t i = 0; i < n; ++i) memcpy(dst + (size_t)(i * ds) * es, src + (size_t)(i * ss) * es, es);
}

}  // namespace

void strided_copy(DType t, const StridedCopyArgs& a) {
  if (a.rank == 0) {
    memcpy(static_cast<char*>(a.dst) + a.dst_offset * dtype_size(t),
           static_cast<const char*>(a.src) + a.src_offset * dtype_size(t), (size_t)dtype_size(t));
    return;
  }
  int64_t outer = 1;
  for (int d = 0; d + 1 < a.rank; ++d) outer *= a.shape[d];
  const int last = a.rank - 1;
  const int64_t inner = a.shape[last];
  if (outer == 0 || inner == 0) return;
  const size_t es = (size_t)dtype_size(t);
  const int64_t grain = inner >= 4096 ? 1 : 4096 / inner;
  parallel_for(outer, grain, [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      int64_t so = a.src_offset, dof = a.dst_offset, rest = o;
      for (int d = last - 1; d >= 0; --d) {
        const int64_t i = rest % a.shape[d];
        rest /= a.shape[d];
        so += i * a.src_strides[d];
        dof += i * a.dst_strides[d];
      }
      copy_run(static_cast<const char*>(a.src) + (size_t)so * es, static_cast<char*>(a.dst) + (size_t)dof * es, inner,
               a.src_strides[last], a.dst_strides[last], es);
    }
  });
}

}  // namespace natten::cpu::NATTEN_SIMD
