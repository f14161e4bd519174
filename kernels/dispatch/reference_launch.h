// The launch layer's shared pieces for the reference and unfused CUDA paths: problem checks (so no bad
// problem can make a kernel read or write outside its tensors), the device's stream, and the
// reference fused kernels (the on-GPU oracle, and the fused fallback where no fast kernel exists).
#pragma once
#include <cuda_runtime.h>

#include "../common/dtype.h"
#include "../common/op_args.h"

namespace natten::launch {

/// Throws a RangeError (ERR_NATTEN_INVALID_ARG_VALUE) unless the problem is one the kernels handle:
/// 1 <= dims <= 3, per axis 1 <= stride <= kernel and kernel * dilation <= length, heads_kv dividing heads
/// (when `gqa`), positive head dims, n_extra >= 0.
void check_problem(const NaProblem& p, const char* op, bool gqa);

/// Makes `device` current for this thread and returns its ordered stream.
cudaStream_t device_stream(int device);

/// Reference fused forward / backward on the device's stream (any problem check_problem accepts).
void reference_forward(int device, const NaProblem& p, DType t, const FusedForwardArgs& a);
void reference_backward(int device, const NaProblem& p, DType t, const FusedBackwardArgs& a);

}  // namespace natten::launch
