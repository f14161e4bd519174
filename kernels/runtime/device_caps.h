// What the fused-kernel selection knows about a device. Plain C++ (no CUDA headers) so native/ can build
// one from capabilities it is given (natten.internal.chooseFusedConfigs) without touching a device.
#pragma once

namespace natten::fused {

/// What the selection needs to know about a device: queried by device_caps(device), or
/// given with device = -1 (a hypothetical device: nothing is queried, see resident_ctas in forward.cu).
struct DeviceCaps {
  int device = -1;  // CUDA ordinal (-1: a hypothetical device, e.g. for host-only cost estimates)
  int cc_major = 0;
  int cc_minor = 0;
  int sm_count = 1;
  int smem_optin = 0;  // bytes of shared memory a block may opt in to
};

/// The device's capabilities, queried once per device and cached (the one capability query of the kernel
/// families; device_caps.cu).
DeviceCaps device_caps(int device);

}  // namespace natten::fused
