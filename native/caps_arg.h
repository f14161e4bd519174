// options.caps: a device described by its capabilities ({major, minor, multiProcessorCount,
// sharedMemoryPerBlockOptin}, the fields of deviceInfo()), for the bindings that answer for a device
// without touching one (chooseFusedConfigs, fusedConfigs with caps).
#pragma once
#include "../kernels/runtime/device_caps.h"
#include "options_arg.h"

namespace natten::node {

/// The capabilities object `o` as a hypothetical device (ordinal -1: nothing is queried).
fused::DeviceCaps caps_arg(const Options& o);

}  // namespace natten::node
