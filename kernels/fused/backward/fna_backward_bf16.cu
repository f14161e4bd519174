// bf16 instantiation of the fused NA backward kernels (see fna_backward_kernels.h).
#include "fna_backward_kernels.h"

namespace natten::fused {
template void launch_backward_kernels<BF16>(const BackwardParams&, const BackwardPlan&, const void*, cudaStream_t);
}  // namespace natten::fused
