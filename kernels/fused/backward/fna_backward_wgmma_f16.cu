// F16 instantiation of the sm_90a wgmma backward's main pass (fna_backward_wgmma_launch.cuh); a translation unit
// per type so the two compile in parallel.
#include "fna_backward_wgmma_launch.cuh"

namespace natten::fused {
template void launch_backward_wgmma<F16>(const BackwardParams&, int, int, dim3, cudaStream_t);
}  // namespace natten::fused
