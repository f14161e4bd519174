// Stand-in for the CUDA driver header in the CPU emulation (dev/fused/emu): only the tensor-map type.
#pragma once
struct alignas(64) CUtensorMap {
  unsigned long long opaque[16];
};
