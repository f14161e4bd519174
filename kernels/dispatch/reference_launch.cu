// Problem checks, the device stream and the reference fused-NA launches (see reference_launch.h).
#include "reference_launch.h"

#include <string>

#include "../reference/reference.h"
#include "../runtime/axes3.cuh"
#include "../runtime/cuda_check.h"
#include "../runtime/gpu_runtime.h"

namespace natten::launch {
namespace {

[[noreturn]] void bad(const char* op, const std::string& what) {
  throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE", std::string(op) + ": " + what);
}

}  // namespace

void check_problem(const NaProblem& p, const char* op, bool gqa) {
  if (p.dims < 1 || p.dims > kMaxDims) bad(op, "expected 1 to 3 spatial dimensions, got " + std::to_string(p.dims));
  if (p.batch < 0) bad(op, "batch must be >= 0, got " + std::to_string(p.batch));
  if (p.heads < 1 || p.heads_kv < 1) bad(op, "head counts must be >= 1");
  if (gqa && p.heads % p.heads_kv != 0)
    bad(op, "kv heads (" + std::to_string(p.heads_kv) + ") must divide query heads (" + std::to_string(p.heads) + ")");
  if (p.head_dim < 1 || p.head_dim_v < 1) bad(op, "head dims must be >= 1");
  if (p.n_extra < 0) bad(op, "n_extra must be >= 0");
  for (int a = 0; a < p.dims; ++a) {
    const std::string axis = " on axis " + std::to_string(a);
    if (p.length[a] < 1) bad(op, "length must be >= 1" + axis + ", got " + std::to_string(p.length[a]));
    if (p.kernel[a] < 1) bad(op, "kernel size must be >= 1" + axis + ", got " + std::to_string(p.kernel[a]));
    if (p.dilation[a] < 1) bad(op, "dilation must be >= 1" + axis + ", got " + std::to_string(p.dilation[a]));
    if (p.stride[a] < 1 || p.stride[a] > p.kernel[a])
      bad(op, "stride must be in [1, kernel size]" + axis + ", got " + std::to_string(p.stride[a]));
    if ((int64_t)p.kernel[a] * p.dilation[a] > p.length[a])
      bad(op, "kernel size * dilation must be <= length" + axis + ", got " + std::to_string(p.kernel[a]) + " * " +
                  std::to_string(p.dilation[a]) + " > " + std::to_string(p.length[a]));
  }
}

cudaStream_t device_stream(int device) {
  cudaStream_t s = static_cast<cudaStream_t>(gpu::stream(device));  // validates the device index
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  return s;
}

void reference_forward(int device, const NaProblem& p, DType t, const FusedForwardArgs& a) {
  check_problem(p, "na_forward", true);
  reference::launch_forward(device_stream(device), cuda::as_3d(p), t, a);
}

void reference_backward(int device, const NaProblem& p, DType t, const FusedBackwardArgs& a) {
  check_problem(p, "na_backward", true);
  const cudaStream_t s = device_stream(device);
  const int64_t rows = p.batch * p.tokens() * p.heads;
  // delta = rowsum(dO * O) per query row; freed in stream order after the kernels that read it.
  gpu::DeviceScratch delta(device, (size_t)rows * sizeof(float));
  reference::launch_backward(s, cuda::as_3d(p), t, a, delta.data<float>());
}

}  // namespace natten::launch
