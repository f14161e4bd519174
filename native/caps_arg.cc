// caps_arg.h: reads the capabilities a hypothetical device is described by.
#include "caps_arg.h"

namespace natten::node {

fused::DeviceCaps caps_arg(const Options& o) {
  fused::DeviceCaps caps;
  caps.device = -1;
  caps.cc_major = (int)o.integer("major", 0, 99);
  caps.cc_minor = (int)o.integer("minor", 0, 9);
  caps.sm_count = (int)o.integer("multiProcessorCount", 1, 1 << 16);
  caps.smem_optin = (int)o.integer("sharedMemoryPerBlockOptin", 1, 1 << 30);
  return caps;
}

}  // namespace natten::node
