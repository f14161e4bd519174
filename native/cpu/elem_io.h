// Loads and stores of tensor elements in any storage dtype, as fp32 (the CPU engine's compute type).
// Rounding on store is the one of kernels/common/dtype.h: round to nearest even, once, from fp32
// (float64 outputs are widened exactly).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../../kernels/common/dtype.h"

namespace natten::cpu {

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

}  // namespace natten::cpu
