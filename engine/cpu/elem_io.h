// Loads and stores of tensor elements in any storage dtype, as fp32 (the SIMD engine's compute type) or,
// by row, as fp64 (the float64 path). Rounding on store is the one of kernels/common/dtype.h: round to
// nearest even, once (fp32 into a float64 buffer is widened exactly).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../kernels/common/dtype.h"
#include "vec.h"

namespace natten::cpu::NATTEN_SIMD {

/// Element i of a buffer of type t, as float (float64 is rounded to nearest float).
inline float load_f32(const void* p, DType t, size_t i) {
  switch (t) {
    case DType::Float32: return static_cast<const float*>(p)[i];
    case DType::Float16: return half_to_float(static_cast<const uint16_t*>(p)[i]);
    case DType::BFloat16: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    default: return (float)static_cast<const double*>(p)[i];
  }
}

/// Writes v to element i of a buffer of type t.
inline void store_f32(void* p, DType t, size_t i, float v) {
  switch (t) {
    case DType::Float32: static_cast<float*>(p)[i] = v; break;
    case DType::Float16: static_cast<uint16_t*>(p)[i] = float_to_half(v); break;
    case DType::BFloat16: static_cast<uint16_t*>(p)[i] = float_to_bf16(v); break;
    default: static_cast<double*>(p)[i] = (double)v; break;
  }
}

/// n consecutive elements starting at element `at`, converted to float, times `scale`.
inline void load_row(const void* p, DType t, size_t at, int64_t n, float* out, float scale = 1.f) {
  switch (t) {
    case DType::Float32: {
      const float* s = static_cast<const float*>(p) + at;
      for (int64_t i = 0; i < n; ++i) out[i] = s[i] * scale;
      break;
    }
    case DType::Float16: {
      const uint16_t* s = static_cast<const uint16_t*>(p) + at;
      for (int64_t i = 0; i < n; ++i) out[i] = half_to_float(s[i]) * scale;
      break;
    }
    case DType::BFloat16: {
      const uint16_t* s = static_cast<const uint16_t*>(p) + at;
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_float(s[i]) * scale;
      break;
    }
    default: {
      const double* s = static_cast<const double*>(p) + at;
      for (int64_t i = 0; i < n; ++i) out[i] = (float)s[i] * scale;
      break;
    }
  }
}

/// n floats stored as consecutive elements starting at element `at`.
inline void store_row(void* p, DType t, size_t at, int64_t n, const float* in) {
  switch (t) {
    case DType::Float32: {
      float* d = static_cast<float*>(p) + at;
      for (int64_t i = 0; i < n; ++i) d[i] = in[i];
      break;
    }
    case DType::Float16: {
      uint16_t* d = static_cast<uint16_t*>(p) + at;
      for (int64_t i = 0; i < n; ++i) d[i] = float_to_half(in[i]);
      break;
    }
    case DType::BFloat16: {
      uint16_t* d = static_cast<uint16_t*>(p) + at;
      for (int64_t i = 0; i < n; ++i) d[i] = float_to_bf16(in[i]);
      break;
    }
    default: {
      double* d = static_cast<double*>(p) + at;
      for (int64_t i = 0; i < n; ++i) d[i] = (double)in[i];
      break;
    }
  }
}

/// n consecutive elements starting at element `at`, as doubles (exact for every dtype).
inline void load_row(const void* p, DType t, size_t at, int64_t n, double* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = load_element(p, t, at + (size_t)i);
}

/// n doubles stored as consecutive elements starting at element `at` (rounded once to the dtype).
inline void store_row(void* p, DType t, size_t at, int64_t n, const double* in) {
  for (int64_t i = 0; i < n; ++i) store_element(p, t, at + (size_t)i, in[i]);
}

typedef uint16_t vu16 __attribute__((vector_size(32)));
typedef uint32_t vu32 __attribute__((vector_size(64)));
typedef double vd16 __attribute__((vector_size(128)));
#if defined(__FLT16_MAX__)
typedef _Float16 vh16 __attribute__((vector_size(32)));
#endif

/// Elements [at, at + n) (n <= 16) of a buffer as one vector times scale; lanes >= n are 0.
inline vf load16(const void* p, DType t, size_t at, int n, float scale = 1.f) {
  if (n < kLanes) {
    alignas(64) float buf[kLanes] = {};
    load_row(p, t, at, n, buf, scale);
    return vload(buf);
  }
  vf v;
  switch (t) {
    case DType::Float32: v = vloadu(static_cast<const float*>(p) + at); break;
    case DType::BFloat16: {
      vu16 h;
      memcpy(&h, static_cast<const uint16_t*>(p) + at, sizeof h);
      const vu32 bits = __builtin_convertvector(h, vu32) << 16;
      memcpy(&v, &bits, sizeof v);
      break;
    }
    case DType::Float16: {
#if defined(__FLT16_MAX__)
      vh16 h;
      memcpy(&h, static_cast<const uint16_t*>(p) + at, sizeof h);
      v = vfrom_generic(__builtin_convertvector(h, vgf));
#else
      alignas(64) float buf[kLanes];
      load_row(p, t, at, kLanes, buf);
      v = vload(buf);
#endif
      break;
    }
    default: {
      vd16 d;
      memcpy(&d, static_cast<const double*>(p) + at, sizeof d);
      v = vfrom_generic(__builtin_convertvector(d, vgf));
      break;
    }
  }
  return v * scale;
}

/// Stores lanes [0, n) of v as elements [at, at + n) of a buffer of type t (round to nearest even).
inline void store16(void* p, DType t, size_t at, vf v, int n) {
  if (n < kLanes || t == DType::Float16) {
    // float16 goes through the scalar rounding of dtype.h (exactly the conversion the rest of natten uses).
    alignas(64) float buf[kLanes];
    vstore(buf, v);
    store_row(p, t, at, n, buf);
    return;
  }
  switch (t) {
    case DType::Float32: vstoreu(static_cast<float*>(p) + at, v); break;
    case DType::BFloat16: {
      vu32 u;
      memcpy(&u, &v, sizeof u);
      const vu32 rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
      const vu32 nan = ((u >> 16) | 0x40u);
      const vu32 r = (u & 0x7fffffffu) > 0x7f800000u ? nan : rounded;
      const vu16 h = __builtin_convertvector(r, vu16);
      memcpy(static_cast<uint16_t*>(p) + at, &h, sizeof h);
      break;
    }
    default: {
      const vd16 d = __builtin_convertvector(vto_generic(v), vd16);
      memcpy(static_cast<double*>(p) + at, &d, sizeof d);
      break;
    }
  }
}

}  // namespace natten::cpu::NATTEN_SIMD
