// Stand-in for CUDA's vector_types.h in the CPU emulation (dev/fused/emu): cuda_emu.h defines the vector types.
#pragma once
#include "cuda_emu.h"
