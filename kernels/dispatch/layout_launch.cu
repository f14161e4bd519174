// na_ops.h entries of the unfused chain's layout/scale kernels and of mergeAttentions.
#include "../merge/merge.h"
#include "../unfused/layout.h"
#include "na_ops.h"

namespace natten::launch {

void fused_to_unfused(int device, DType t, int64_t B, int64_t N, int64_t H, int64_t Hs, int64_t C, const void* src,
                      void* dst) {
  unfused::fused_to_unfused(device, t, B, N, H, Hs, C, src, dst);
}
void unfused_to_fused(int device, DType t, int64_t B, int64_t N, int64_t Hs, int64_t H, int64_t C, const void* src,
                      void* dst) {
  unfused::unfused_to_fused(device, t, B, N, Hs, H, C, src, dst);
}
void scale(int device, DType t, int64_t n, const void* src, void* dst, double factor) {
  unfused::scale(device, t, n, src, dst, factor);
}
void merge_attentions(int device, DType t, int n, const void* const* outs, const float* const* lses, int64_t rows,
                      int64_t dv, void* out, float* lse) {
  fused::merge_attentions(device, t, n, outs, lses, rows, dv, out, lse);
}

}  // namespace natten::launch
