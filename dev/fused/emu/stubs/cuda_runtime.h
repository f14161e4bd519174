// Stand-in for the CUDA runtime header in the CPU emulation (dev/fused/emu): the types the kernel headers
// name.
#pragma once
struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
typedef void* cudaStream_t;
