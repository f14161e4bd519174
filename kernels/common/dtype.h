// Element types and exact conversions between them, shared by host and device code.
// Half types are handled as raw 16-bit patterns so host and device round identically
// (round to nearest, ties to even; NaN stays NaN with the quiet bit set; overflow goes to Inf).
#pragma once
#include <stdint.h>
#include <string.h>
#include "hostdevice.h"

namespace natten {

/// Storage element type. Values are part of the JS<->native protocol (lib/dtype.ts mirrors them).
enum class DType : int { Float32 = 0, Float16 = 1, BFloat16 = 2, Float64 = 3 };

NATTEN_HD int dtype_size(DType t) { return t == DType::Float64 ? 8 : (t == DType::Float32 ? 4 : 2); }

NATTEN_HD uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
NATTEN_HD float bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
NATTEN_HD uint64_t double_bits(double f) {
  uint64_t u;
  memcpy(&u, &f, 8);
  return u;
}

/// IEEE binary16 bits -> float (exact).
NATTEN_HD float half_to_float(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (mant << 13));  // Inf / NaN (payload kept)
  if (exp == 0) {
    if (mant == 0) return bits_float(sign);
    // Subnormal: value = mant * 2^-24, exactly representable in float.
    float v = (float)mant * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return bits_float(sign | ((exp + 112) << 23) | (mant << 13));
}

/// Rounds a non-negative magnitude given as (mantissa with implicit bit, binary exponent) to binary16 bits.
/// value = m * 2^e with m < 2^63. Ties to even. Used by both the float and the double paths so a double
/// rounds once (no double rounding through float).
NATTEN_HD uint16_t round_to_half_bits(uint64_t m, int e) {
  // Normalise m so its top bit is bit 52 (like a double's 53-bit significand).
  if (m == 0) return 0;
  int top = 63;
  while (!((m >> top) & 1)) --top;
  // value = 1.xxx * 2^(e + top)
  int exp2 = e + top;
  if (exp2 > 15) return 0x7c00u;  // overflow to Inf (values >= 65520 round up too, handled below)
  // Number of significand bits kept: normal 11 (incl. implicit), subnormal fewer.
  int keep = exp2 >= -14 ? 11 : 11 - (-14 - exp2);
  if (keep <= -1) return 0;   // below half of the smallest subnormal
  int drop = top + 1 - keep;  // bits of m to drop
  uint64_t q;
  if (drop <= 0) {
    q = m << (-drop);
  } else {
    q = m >> drop;
    const uint64_t rem = m & ((drop >= 64 ? ~0ull : (1ull << drop)) - 1);
    const uint64_t halfway = 1ull << (drop - 1);
    if (rem > halfway || (rem == halfway && (q & 1))) ++q;
  }
  if (exp2 >= -14) {
    // q has 11 bits (or 12 after a carry).
    int be = exp2 + 15;
    if (q >> 11) {
      q >>= 1;
      ++be;
    }
    if (be >= 31) return 0x7c00u;
    return (uint16_t)((be << 10) | (q & 0x3ffu));
  }
  // Subnormal: q counts units of 2^-24; a carry into 0x400 yields the smallest normal, which is correct.
  return (uint16_t)q;
}

NATTEN_HD uint16_t float_to_half(float f) {
  const uint32_t u = float_bits(f);
  const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  const uint32_t exp = (u >> 23) & 0xff;
  const uint32_t mant = u & 0x7fffffu;
  if (exp == 0xff) return sign | (mant ? (uint16_t)(0x7e00u | (mant >> 13)) : (uint16_t)0x7c00u);
  if (exp == 0) return sign | round_to_half_bits(mant, -149);
  return sign | round_to_half_bits(mant | 0x800000u, (int)exp - 150);
}

NATTEN_HD uint16_t double_to_half(double f) {
  const uint64_t u = double_bits(f);
  const uint16_t sign = (uint16_t)((u >> 48) & 0x8000u);
  const uint32_t exp = (uint32_t)((u >> 52) & 0x7ff);
  const uint64_t mant = u & 0xfffffffffffffull;
  if (exp == 0x7ff) return sign | (mant ? (uint16_t)(0x7e00u | (uint16_t)(mant >> 42)) : (uint16_t)0x7c00u);
  if (exp == 0) return sign | round_to_half_bits(mant, -1074);
  return sign | round_to_half_bits(mant | (1ull << 52), (int)exp - 1075);
}

/// bfloat16 bits -> float (exact).
NATTEN_HD float bf16_to_float(uint16_t h) { return bits_float((uint32_t)h << 16); }

NATTEN_HD uint16_t float_to_bf16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);  // quiet NaN
  const uint32_t rounding = 0x7fffu + ((u >> 16) & 1);
  return (uint16_t)((u + rounding) >> 16);
}

NATTEN_HD uint16_t double_to_bf16(double f) {
  // Round the double once: split into the float just below (truncated) and decide with the exact rest.
  const uint64_t u = double_bits(f);
  const uint64_t mag = u & 0x7fffffffffffffffull;
  if (mag > 0x7ff0000000000000ull) return (uint16_t)(((u >> 48) & 0x8000u) | 0x7fc0u);  // NaN
  // bf16 has 8 significand bits; emulate with the half-style rounder on the bf16 exponent range by
  // rounding to float with round-toward-zero plus a sticky bit, then rounding that float to bf16.
  // The sticky bit makes the second rounding exact (classic round-to-odd trick).
  float t = (float)f;  // RNE; fix up to round-to-odd
  double back = (double)t;
  uint32_t tb = float_bits(t);
  if (back != f && (tb & 0x7fffffffu) != 0x7f800000u) {
    // Move t toward zero if it was rounded away from zero, then set the lowest bit (sticky).
    if ((back > f) == (f > 0)) tb -= 1;
    tb |= 1;
  }
  return float_to_bf16(bits_float(tb));
}

}  // namespace natten

namespace natten {

/// Reads element i of a buffer of type t, exactly, as a double.
NATTEN_HD double load_element(const void* p, DType t, size_t i) {
  switch (t) {
    case DType::Float32: return (double)static_cast<const float*>(p)[i];
    case DType::Float16: return (double)half_to_float(static_cast<const uint16_t*>(p)[i]);
    case DType::BFloat16: return (double)bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    default: return static_cast<const double*>(p)[i];
  }
}

/// Writes v to element i of a buffer of type t, rounding once to nearest even.
NATTEN_HD void store_element(void* p, DType t, size_t i, double v) {
  switch (t) {
    case DType::Float32: static_cast<float*>(p)[i] = (float)v; break;
    case DType::Float16: static_cast<uint16_t*>(p)[i] = double_to_half(v); break;
    case DType::BFloat16: static_cast<uint16_t*>(p)[i] = double_to_bf16(v); break;
    default: static_cast<double*>(p)[i] = v; break;
  }
}

}  // namespace natten
