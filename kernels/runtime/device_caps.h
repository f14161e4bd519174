// What the kernels know about a device: the one description of its capabilities, for both fused families'
// config choice (forward cost model, backward plan), the unfused launches and deviceInfo(). Plain C++ (no
// CUDA headers) so native/ can build one from capabilities it is given (natten.internal.chooseFusedConfigs)
// without touching a device.
#pragma once
#include <stddef.h>
#include <string>

namespace natten::fused {

/// A device's capabilities: queried by device_caps(device), or given with device = -1 (a hypothetical
/// device: nothing is queried, see resident_ctas in forward_cost.cu).
struct DeviceCaps {
  int device = -1;  // CUDA ordinal (-1: a hypothetical device, e.g. for host-only cost estimates)
  int cc_major = 0;
  int cc_minor = 0;
  int sm_count = 1;
  int smem_optin = 0;  // bytes of shared memory a block may opt in to (0: not known)

  /// The fused tensor-core kernels (forward and backward) run on sm_80 or newer.
  bool runs_fused_kernels() const { return cc_major >= 8; }
  /// sm_90a code (the wgmma forward kernels) runs on compute capability 9.0 only.
  bool runs_sm90a() const { return cc_major == 9 && cc_minor == 0; }
  /// True when a block may opt in to `bytes` of dynamic shared memory (always, when the limit is not known).
  bool smem_fits(size_t bytes) const { return smem_optin <= 0 || bytes <= static_cast<size_t>(smem_optin); }
};

/// The device's capabilities, queried once per device and cached: the one capability query of the
/// kernels (device_caps.cu).
DeviceCaps device_caps(int device);

/// The device's name (cudaDeviceProp::name), queried once per device and cached (device_caps.cu).
std::string device_name(int device);

}  // namespace natten::fused
