// Marks functions shared by CUDA kernels and host code (CPU engine, launch layer).
#pragma once
#if defined(__CUDACC__)
#define NATTEN_HD __host__ __device__ __forceinline__
#else
#define NATTEN_HD inline
#endif
