// Stand-in for CUDA's math_constants.h in the CPU emulation (dev/fused/emu): the constants the kernels name.
#pragma once
#include <cmath>
#define CUDART_INF_F INFINITY
#define CUDART_NAN_F NAN
