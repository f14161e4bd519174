// The part of cuBLASLt's C API the GEMM uses, declared here because the build needs no cuBLAS headers: the
// library is loaded at run time (cublaslt.h). cuBLASLt's C ABI is stable across releases; the values below
// are those of NVIDIA's cublasLt.h and library_types.h (CUDA 11.4 through 13): cublasComputeType_t
// CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_32F_FAST_TF32 = 77; cudaDataType_t CUDA_R_32F = 0, CUDA_R_16F = 2,
// CUDA_R_16BF = 14; cublasOperation_t N = 0, T = 1; cublasLtMatmulDescAttributes_t COMPUTE_TYPE = 0,
// SCALE_TYPE = 1, TRANSA = 3, TRANSB = 4, EPILOGUE = 7, BIAS_POINTER = 8, BIAS_DATA_TYPE = 26;
// cublasLtMatrixLayoutAttribute_t BATCH_COUNT = 5, STRIDED_BATCH_OFFSET = 6; cublasLtMatmulPreferenceAttributes_t
// MAX_WORKSPACE_BYTES = 1, MIN_ALIGNMENT_{A,B,C,D}_BYTES = 5..8; cublasLtEpilogue_t DEFAULT = 1, BIAS = 4;
// cublasLtMatmulHeuristicResult_t {cublasLtMatmulAlgo_t algo (8 x uint64); size_t workspaceSize;
// cublasStatus_t state; float wavesCount; int reserved[4]}.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace natten::blas_api {

using Status = int;  // cublasStatus_t; 0 is CUBLAS_STATUS_SUCCESS
using Handle = void*;
using MatmulDesc = void*;
using MatrixLayout = void*;
using Preference = void*;

constexpr int kComputeF32 = 68, kComputeF32FastTf32 = 77;
constexpr int kR32F = 0, kR16F = 2, kR16BF = 14;
constexpr int kOpN = 0, kOpT = 1;
constexpr int kDescComputeType = 0, kDescScaleType = 1, kDescTransA = 3, kDescTransB = 4, kDescEpilogue = 7,
              kDescBiasPointer = 8, kDescBiasBatchStride = 10,
              kDescBiasDataType = 26;
constexpr int kLayoutBatchCount = 5, kLayoutStridedBatchOffset = 6;
constexpr int kPrefMaxWorkspaceBytes = 1, kPrefMinAlignmentA = 5, kPrefMinAlignmentB = 6, kPrefMinAlignmentC = 7,
              kPrefMinAlignmentD = 8;
constexpr uint32_t kEpilogueDefault = 1, kEpilogueBias = 4;

struct MatmulAlgo {
  uint64_t data[8];
};
struct HeuristicResult {
  MatmulAlgo algo;
  size_t workspace_size;
  Status state;
  float waves_count;
  int reserved[4];
};

/// The entry points, resolved by name from the loaded library.
struct Api {
  Status (*create)(Handle*);
  size_t (*get_version)();
  Status (*matmul_desc_create)(MatmulDesc*, int compute_type, int scale_type);
  Status (*matmul_desc_set_attribute)(MatmulDesc, int attr, const void* buf, size_t size);
  Status (*matrix_layout_create)(MatrixLayout*, int type, uint64_t rows, uint64_t cols, int64_t ld);
  Status (*matrix_layout_set_attribute)(MatrixLayout, int attr, const void* buf, size_t size);
  Status (*preference_create)(Preference*);
  Status (*preference_destroy)(Preference);
  Status (*preference_set_attribute)(Preference, int attr, const void* buf, size_t size);
  Status (*algo_get_heuristic)(Handle, MatmulDesc, MatrixLayout a, MatrixLayout b, MatrixLayout c, MatrixLayout d,
                               Preference, int requested, HeuristicResult* results, int* returned);
  Status (*matmul)(Handle, MatmulDesc, const void* alpha, const void* a, MatrixLayout, const void* b, MatrixLayout,
                   const void* beta, const void* c, MatrixLayout, void* d, MatrixLayout, const MatmulAlgo* algo,
                   void* workspace, size_t workspace_bytes, void* stream);
};

}  // namespace natten::blas_api
