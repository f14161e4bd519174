// Host API of the CUDA optimizer steps and gradient unscale (docs/design.md §6 "Training"): the only entry
// native/ uses to run them on a GPU; each call enqueues on the device's stream (kernels/optim/).
#pragma once
#include "../common/dtype.h"
#include "../common/error.h"
#include "../common/optim_args.h"

namespace natten::launch {

/// One multi-tensor SGD or AdamW step over parameters of dtype t (float32, float16, bfloat16).
void optim_step(int device, DType t, const OptimStepArgs& a);
/// GradScaler's unscale of float32 gradients, flagging inf/NaN in *a.found_inf.
void unscale_grads(int device, DType t, const UnscaleArgs& a);

}  // namespace natten::launch
