// CUDA optimizer steps and GradScaler's unscale (docs/design.md §6 "Training"): multi-tensor kernels, each
// launch updating up to kMaxTensorsPerLaunch parameters of one dtype (fp32 math); each call enqueues on the
// device's stream.
#pragma once
#include "../common/dtype.h"
#include "../common/optim_args.h"

namespace natten::optim {

/// Parameters (or gradients) one kernel launch takes: their descriptors travel in the kernel's arguments.
constexpr int kMaxTensorsPerLaunch = 24;

/// t: the parameters' dtype (float32, float16, bfloat16; state and gradients fp32).
void step(int device, DType t, const OptimStepArgs& a);
/// t: the gradients' dtype (float32).
void unscale(int device, DType t, const UnscaleArgs& a);

}  // namespace natten::optim
