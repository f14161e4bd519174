// GEMM on a GPU through cuBLASLt (docs/design.md §6 "Tensor ops"): fp16/bf16 with fp32 accumulation, fp32
// in fp32 (TF32 tensor cores only when args.allow_tf32), bias fused in the epilogue, workspace from the
// device's stream-ordered pool. Row-major operands are handed to cuBLASLt as the column-major transposes
// (C^T = op(B)^T A^T), so no copy is made.
#pragma once
#include "../common/dtype.h"
#include "../common/tensor_args.h"

namespace natten::blas {

/// Enqueues C = A·op(B) (+ bias) on the device's stream. Throws ERR_NATTEN_NO_CUBLAS without cuBLASLt.
void gemm(int device, DType t, const GemmArgs& a);

}  // namespace natten::blas
