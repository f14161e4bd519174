// Fused neighborhood attention in float64: the straightforward path beside the SIMD engine (which
// computes in fp32), so that float64 tensors get float64 results (gradient checks, docs/design.md §3).
#pragma once
#include "../../kernels/common/op_args.h"

namespace natten::cpu::NATTEN_SIMD {

/// Forward of float64 q/k/v (and extra K/V) into a float64 output; the LSE (if asked) is stored as float32.
void fna_forward_f64(const NaProblem& p, const FusedForwardArgs& a);

/// Backward of float64 tensors. Each row's logsumexp is recomputed in float64 from q and k (the float32
/// LSE in a.lse would bound the gradients' accuracy by float32's); delta = rowsum(dO * O) uses a.out.
void fna_backward_f64(const NaProblem& p, const FusedBackwardArgs& a);

}  // namespace natten::cpu::NATTEN_SIMD
