// NATTEN_CUDA_CHECK: turns a failed CUDA runtime call into natten::Error(ERR_NATTEN_CUDA) naming the call
// and the CUDA error. Every CUDA call in the launch layer goes through it.
#pragma once
#include <cuda_runtime.h>
#include <string>
#include "error.h"

namespace natten::gpu {

[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* what, const char* file, int line) {
  cudaGetLastError();  // clear non-sticky errors so the next call starts clean
  throw Error(ErrorKind::Natten, e == cudaErrorMemoryAllocation ? "ERR_NATTEN_OOM" : "ERR_NATTEN_CUDA",
              std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e) + " (" + what + " at " + file +
                  ":" + std::to_string(line) + ")");
}

}  // namespace natten::gpu

#define NATTEN_CUDA_CHECK(expr)                                                        \
  do {                                                                                 \
    cudaError_t natten_err_ = (expr);                                                  \
    if (natten_err_ != cudaSuccess) ::natten::gpu::throw_cuda_error(natten_err_, #expr, __FILE__, __LINE__); \
  } while (0)
