// The strided layout copy (tensor_kernels.h): one thread per element, its index decomposed over the (merged)
// axes; elements moved as raw 2- or 4-byte words (no conversion).
#include "../runtime/cuda_check.h"
#include "../runtime/gpu_runtime.h"
#include "../runtime/launch_util.h"
#include "tensor_kernels.h"

namespace natten::tensor {
namespace {

constexpr int kThreads = 256;

template <typename W>
__global__ void strided_copy_kernel(StridedCopyArgs a, int64_t n) {
  const W* src = static_cast<const W*>(a.src);
  W* dst = static_cast<W*>(a.dst);
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t rest = i, so = a.src_offset, dof = a.dst_offset;
    for (int d = a.rank - 1; d >= 0; --d) {
      const int64_t idx = rest % a.shape[d];
      rest /= a.shape[d];
      so += idx * a.src_strides[d];
      dof += idx * a.dst_strides[d];
    }
    dst[dof] = src[so];
  }
}

}  // namespace

void strided_copy(int device, DType t, const StridedCopyArgs& a) {
  int64_t n = 1;
  for (int d = 0; d < a.rank; ++d) n *= a.shape[d];
  if (!n) return;
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(gpu::stream(device));
  unsigned blocks = cuda::grid_for(n, kThreads, "stridedCopy");
  blocks = blocks < 65536u * 16u ? blocks : 65536u * 16u;
  if (dtype_size(t) == 2) strided_copy_kernel<uint16_t><<<blocks, kThreads, 0, s>>>(a, n);
  else if (dtype_size(t) == 4) strided_copy_kernel<uint32_t><<<blocks, kThreads, 0, s>>>(a, n);
  else throw Error(ErrorKind::Type, "ERR_NATTEN_UNSUPPORTED", "stridedCopy: dtype float64 has no CUDA kernel");
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace natten::tensor
