// NATTEN_CUDA_CHECK: turns a failed CUDA runtime call into natten::Error(ERR_NATTEN_CUDA) naming the call
// and the CUDA error. Every CUDA call in the launch layer goes through it.
#pragma once
#include <cuda_runtime.h>
#include <string>
#include "../common/error.h"

namespace natten::gpu {

/// True for the errors that leave the CUDA context unusable (a kernel fault): every later call on the
/// device fails the same way until the process restarts.
inline bool is_sticky(cudaError_t e) {
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorECCUncorrectable:
    case cudaErrorLaunchTimeout:
    case cudaErrorNvlinkUncorrectable:
    case cudaErrorContextIsDestroyed: return true;
    default: return false;
  }
}

/// Marks the calling thread's current device as lost after a sticky error (gpu_runtime.cu) and returns
/// the text that tells the user what to do.
std::string mark_current_device_lost(const std::string& error);

[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* what, const char* file, int line) {
  cudaGetLastError();  // clear non-sticky errors so the next call starts clean
  std::string msg = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e) + " (" + what + " at " + file +
                    ":" + std::to_string(line) + ")";
  if (is_sticky(e)) msg = mark_current_device_lost(msg);
  throw Error(ErrorKind::Natten, e == cudaErrorMemoryAllocation ? "ERR_NATTEN_OOM" : "ERR_NATTEN_CUDA", msg);
}

}  // namespace natten::gpu

#define NATTEN_CUDA_CHECK(expr)                                                                              \
  do {                                                                                                       \
    cudaError_t natten_err_ = (expr);                                                                        \
    if (natten_err_ != cudaSuccess) ::natten::gpu::throw_cuda_error(natten_err_, #expr, __FILE__, __LINE__); \
  } while (0)
