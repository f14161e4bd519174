// Element access for the reference and unfused CUDA kernels: every tensor element is loaded as fp32 and
// every result is rounded once (to nearest even) into the storage type. One instantiation per storage
// type (float, __half, __nv_bfloat16); the host picks it from a DType with dispatch_dtype().
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <string>

#include "../common/dtype.h"
#include "../common/error.h"

namespace natten::cuda {

template <typename T>
struct Elem;

template <>
struct Elem<float> {
  static __device__ __forceinline__ float load(const float* p) { return *p; }
  static __device__ __forceinline__ void store(float* p, float v) { *p = v; }
};

template <>
struct Elem<__half> {
  static __device__ __forceinline__ float load(const __half* p) { return __half2float(*p); }
  static __device__ __forceinline__ void store(__half* p, float v) { *p = __float2half_rn(v); }
};

template <>
struct Elem<__nv_bfloat16> {
  static __device__ __forceinline__ float load(const __nv_bfloat16* p) { return __bfloat162float(*p); }
  static __device__ __forceinline__ void store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }
};

template <typename T>
__device__ __forceinline__ float ld(const T* p) {
  return Elem<T>::load(p);
}
template <typename T>
__device__ __forceinline__ void st(T* p, float v) {
  Elem<T>::store(p, v);
}

/// Loads 8 consecutive elements as fp32 with 16-byte vector loads (p must be 16-byte aligned).
__device__ __forceinline__ void load8(const float* p, float v[8]) {
  const float4 a = *reinterpret_cast<const float4*>(p);
  const float4 b = *reinterpret_cast<const float4*>(p + 4);
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}
/// fp32 value of raw binary16 / bfloat16 bits (exact).
__device__ __forceinline__ float half_bits_to_float(uint32_t b) {
#ifdef __CUDA_ARCH__
  return __half2float(__ushort_as_half((unsigned short)b));
#else
  return half_to_float((uint16_t)b);
#endif
}
__device__ __forceinline__ float bf16_bits_to_float(uint32_t b) { return bits_float(b << 16); }

/// 8 consecutive 16-bit elements (one 16-byte load) as fp32, each converted from its bits by `to_float`.
template <typename ToFloat>
__device__ __forceinline__ void load8_16bit(const void* p, float v[8], ToFloat to_float) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    v[2 * i] = to_float(w[i] & 0xffffu);
    v[2 * i + 1] = to_float(w[i] >> 16);
  }
}
__device__ __forceinline__ void load8(const __half* p, float v[8]) {
  load8_16bit(p, v, [](uint32_t b) { return half_bits_to_float(b); });
}
__device__ __forceinline__ void load8(const __nv_bfloat16* p, float v[8]) {
  load8_16bit(p, v, [](uint32_t b) { return bf16_bits_to_float(b); });
}

/// Carries a storage type through a generic lambda: `dispatch_dtype(t, [&](auto tag) { using T =
/// typename decltype(tag)::type; ... })`.
template <typename T>
struct TypeTag {
  using type = T;
};

/// Calls f(TypeTag<T>) for the CUDA storage type of t; float64 has no CUDA kernel.
template <typename F>
void dispatch_dtype(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: f(TypeTag<float>{}); return;
    case DType::Float16: f(TypeTag<__half>{}); return;
    case DType::BFloat16: f(TypeTag<__nv_bfloat16>{}); return;
    default:
      throw Error(ErrorKind::Type, "ERR_NATTEN_UNSUPPORTED",
                  std::string(op) + ": dtype float64 has no CUDA kernel (use float32, float16 or bfloat16)");
  }
}

}  // namespace natten::cuda
