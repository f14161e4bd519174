// The strided layout copy (tensor_kernels.h): one thread per word, its index decomposed over the (merged)
// axes; elements moved as raw words (no conversion). Where the innermost axis is contiguous in both tensors
// and every stride and offset allows it, the copy moves 16-, 8- or 4-byte words instead of single elements:
// a split of the last axis (chunk of a packed qkv) then runs at memory bandwidth instead of a word per
// thread of 2 bytes.
#include <cstdint>

#include "../runtime/cuda_check.h"
#include "../runtime/gpu_runtime.h"
#include "../runtime/launch_util.h"
#include "tensor_kernels.h"

namespace natten::tensor {
namespace {

constexpr int kThreads = 256;

// Index math in Index (32-bit where the walk and both tensors' extents fit: 64-bit division is several times
// slower).
template <typename W, typename Index>
__global__ void strided_copy_kernel(StridedCopyArgs a, Index n) {
  const W* src = static_cast<const W*>(a.src);
  W* dst = static_cast<W*>(a.dst);
  for (Index i = blockIdx.x * (Index)blockDim.x + threadIdx.x; i < n; i += (Index)gridDim.x * blockDim.x) {
    Index rest = i, so = Index(a.src_offset), dof = Index(a.dst_offset);
    for (int d = a.rank - 1; d >= 0; --d) {
      const Index len = Index(a.shape[d]);
      const Index idx = rest % len;
      rest /= len;
      so += idx * Index(a.src_strides[d]);
      dof += idx * Index(a.dst_strides[d]);
    }
    dst[dof] = src[so];
  }
}

// The widest word (bytes, at most 16) the walk can move: the innermost axis contiguous in both tensors, and
// its length, every other stride, both offsets and both base addresses multiples of the word.
int word_bytes(const StridedCopyArgs& a, int elem) {
  const int last = a.rank - 1;
  if (last < 0 || a.src_strides[last] != 1 || a.dst_strides[last] != 1) return elem;
  for (int w = 16; w > elem; w /= 2) {
    const int64_t per = w / elem;  // elements per word
    bool ok = a.shape[last] % per == 0 && a.src_offset % per == 0 && a.dst_offset % per == 0 &&
              reinterpret_cast<uintptr_t>(a.src) % w == 0 && reinterpret_cast<uintptr_t>(a.dst) % w == 0;
    for (int d = 0; d < last && ok; ++d) ok = a.src_strides[d] % per == 0 && a.dst_strides[d] % per == 0;
    if (ok) return w;
  }
  return elem;
}

// The same walk in words of `per` elements.
StridedCopyArgs in_words(StridedCopyArgs a, int64_t per) {
  if (per == 1) return a;
  const int last = a.rank - 1;
  a.shape[last] /= per;
  for (int d = 0; d < last; ++d) {
    a.src_strides[d] /= per;
    a.dst_strides[d] /= per;
  }
  a.src_offset /= per;
  a.dst_offset /= per;
  return a;
}

// The largest word index either side can reach (for the choice of the index type).
int64_t max_reach(const StridedCopyArgs& a) {
  int64_t s = a.src_offset, d = a.dst_offset;
  for (int i = 0; i < a.rank; ++i) {
    s += (a.shape[i] - 1) * a.src_strides[i];
    d += (a.shape[i] - 1) * a.dst_strides[i];
  }
  return s > d ? s : d;
}

template <typename W>
void launch(const StridedCopyArgs& a, cudaStream_t s) {
  int64_t n = 1;
  for (int d = 0; d < a.rank; ++d) n *= a.shape[d];
  unsigned blocks = cuda::grid_for(n, kThreads, "stridedCopy");
  blocks = blocks < 65536u * 16u ? blocks : 65536u * 16u;
  // Indices stay below 2^31 - 2^28 with the grid-stride step added: 32-bit math.
  if (n < (int64_t(1) << 30) && max_reach(a) < (int64_t(1) << 30))
    strided_copy_kernel<W, uint32_t><<<blocks, kThreads, 0, s>>>(a, uint32_t(n));
  else
    strided_copy_kernel<W, int64_t><<<blocks, kThreads, 0, s>>>(a, n);
}

}  // namespace

void strided_copy(int device, DType t, const StridedCopyArgs& a) {
  int64_t n = 1;
  for (int d = 0; d < a.rank; ++d) n *= a.shape[d];
  if (!n) return;
  const int elem = int(dtype_size(t));
  if (elem != 2 && elem != 4)
    throw Error(ErrorKind::Type, "ERR_NATTEN_UNSUPPORTED", "stridedCopy: dtype float64 has no CUDA kernel");
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(gpu::stream(device));
  const int w = word_bytes(a, elem);
  const StridedCopyArgs words = in_words(a, w / elem);
  switch (w) {
    case 16: launch<uint4>(words, s); break;
    case 8: launch<uint2>(words, s); break;
    case 4: launch<uint32_t>(words, s); break;
    default: launch<uint16_t>(words, s); break;
  }
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace natten::tensor
