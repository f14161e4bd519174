// optim_ops.h entries: the multi-tensor kernels of kernels/optim/.
#include "../optim/optim_kernels.h"
#include "optim_ops.h"

namespace natten::launch {

void optim_step(int device, DType t, const OptimStepArgs& a) { optim::step(device, t, a); }
void unscale_grads(int device, DType t, const UnscaleArgs& a) { optim::unscale(device, t, a); }

}  // namespace natten::launch
