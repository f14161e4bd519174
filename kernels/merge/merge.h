// Merging attention over disjoint key sets from (output, LSE) pairs (mergeAttentions), on CUDA.
#pragma once
#include <stdint.h>
#include "../common/dtype.h"

namespace natten::fused {

/// out/lse [rows, dv] / [rows] from n parts (1 <= n <= 16), on the device's stream.
void merge_attentions(int device, DType t, int n, const void* const* outs, const float* const* lses, int64_t rows,
                      int64_t dv, void* out, float* lse);

}  // namespace natten::fused
