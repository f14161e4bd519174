// A 16-lane float vector for the CPU engine: one AVX-512 register at the avx512 level (a GCC/Clang vector
// extension type), and a struct of two AVX or four SSE registers at the avx2 and baseline levels
// (vec_pieces.h); the functions below work on both. Lanes are neighbouring queries (or keys) of a tile: softmax
// becomes element-wise.
#pragma once
#include <stdint.h>
#include <string.h>

#include "level.h"
#if defined(__AVX512F__)
#include <immintrin.h>
#else
#include "vec_pieces.h"
#endif

namespace natten::cpu::NATTEN_SIMD {

constexpr int kLanes = 16;

#define NATTEN_INLINE inline __attribute__((always_inline))

#if defined(__AVX512F__)
typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));

/// Lane-wise select: m is an all-ones / all-zeros mask per lane.
NATTEN_INLINE vf vselect(vi m, vf a, vf b) { return m ? a : b; }
/// a * b + c, fused: explicit, so the kernels get FMAs even where the compiler does not contract
/// expressions (ISO modes such as the node-gyp build's -std=c++17).
NATTEN_INLINE vf vfma(vf a, vf b, vf c) { return (vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c); }
/// Lanes converted float -> int32 (truncating) and int32 -> float.
NATTEN_INLINE vi vto_int(vf a) { return __builtin_convertvector(a, vi); }
NATTEN_INLINE vf vto_float(vi a) { return __builtin_convertvector(a, vf); }
#endif

NATTEN_INLINE vf vzero() { return vf{}; }
NATTEN_INLINE vf vset(float x) { return vf{} + x; }
#if defined(__AVX512F__)
/// Aligned load/store (64-byte aligned addresses only).
NATTEN_INLINE vf vload(const float* p) { return *reinterpret_cast<const vf*>(p); }
NATTEN_INLINE void vstore(float* p, vf v) { *reinterpret_cast<vf*>(p) = v; }
/// Unaligned load/store.
NATTEN_INLINE vf vloadu(const float* p) {
  vf v;
  memcpy(&v, p, sizeof v);
  return v;
}
NATTEN_INLINE void vstoreu(float* p, vf v) { memcpy(p, &v, sizeof v); }
#endif
/// 16 floats as a vector-extension type whatever the level: for __builtin_convertvector from and to other
/// element types (at the avx2 and baseline levels a value of it lives in memory: keep it out of loops).
typedef float vgf __attribute__((vector_size(64)));
NATTEN_INLINE vf vfrom_generic(vgf g) {
  alignas(64) float t[16];
  memcpy(t, &g, sizeof t);
  return vload(t);
}
NATTEN_INLINE vgf vto_generic(vf v) {
  alignas(64) float t[16];
  vstore(t, v);
  vgf g;
  memcpy(&g, t, sizeof g);
  return g;
}
/// Unaligned load kept in a register: stops the compiler from folding one load into several FMAs as
/// memory operands (each would be a separate, often cache-line-splitting, load).
NATTEN_INLINE vf vloadu_reg(const float* p) {
  vf v = vloadu(p);
#if defined(__GNUC__) && defined(__AVX512F__)
  asm("" : "+v"(v));
#elif defined(__GNUC__)
  for (int k = 0; k < kPieces; ++k) asm("" : "+x"(v.p[k]));
#endif
  return v;
}

NATTEN_INLINE vf vmax(vf a, vf b) { return vselect(a > b, a, b); }

/// Mask vector of a 16-bit lane mask (bit l set -> lane l all ones).
NATTEN_INLINE vi vmask(uint32_t bits) {
  static const int32_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768};
  vi lane_bit;
  memcpy(&lane_bit, kBit, sizeof lane_bit);
  return ((vi{} + (int32_t)bits) & lane_bit) != 0;
}

/// a * b + c in the lanes whose bit is set in `lanes`, c unchanged in the others (not a multiply by a
/// zero weight: 0 * Inf would be NaN). One merge-masked FMA with AVX-512.
NATTEN_INLINE vf vfma_lanes(vf a, vf b, vf c, uint32_t lanes) {
#if defined(__AVX512F__)
  return (vf)_mm512_mask3_fmadd_ps((__m512)a, (__m512)b, (__m512)c, (__mmask16)lanes);
#else
  return vselect(vmask(lanes), a * b + c, c);
#endif
}

/// True when the n vectors at p (64-byte aligned) hold no Inf or NaN.
inline bool all_finite(const float* p, int64_t n) {
  vf acc = vzero();
  for (int64_t i = 0; i < n; ++i) {
    const vf x = vload(p + i * kLanes);
    acc += x - x;  // 0, or NaN for an Inf or NaN lane
  }
  for (int i = 0; i < kLanes; ++i)
    if (!(acc[i] == 0.f)) return false;
  return true;
}

NATTEN_INLINE float vreduce_add(vf v) {
  float s = 0.f;
  for (int i = 0; i < kLanes; ++i) s += v[i];
  return s;
}
NATTEN_INLINE float vreduce_max(vf v) {
  float m = v[0];
  for (int i = 1; i < kLanes; ++i) m = v[i] > m ? v[i] : m;
  return m;
}

#if defined(__AVX512F__)
#define NATTEN_SHUF __builtin_shufflevector
/// In-place transpose of a 16x16 block held as 16 row vectors (four rounds of two-input shuffles).
NATTEN_INLINE void transpose16(vf r[16]) {
  vf t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = NATTEN_SHUF(r[i], r[i + 1], 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
    t[i + 1] = NATTEN_SHUF(r[i], r[i + 1], 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
  }
  for (int i = 0; i < 16; i += 4)
    for (int j = i; j < i + 2; ++j) {
      r[j] = NATTEN_SHUF(t[j], t[j + 2], 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
      r[j + 2] = NATTEN_SHUF(t[j], t[j + 2], 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
    }
  for (int i = 0; i < 16; i += 8)
    for (int j = i; j < i + 4; ++j) {
      t[j] = NATTEN_SHUF(r[j], r[j + 4], 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
      t[j + 4] = NATTEN_SHUF(r[j], r[j + 4], 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
    }
  for (int j = 0; j < 8; ++j) {
    r[j] = NATTEN_SHUF(t[j], t[j + 8], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    r[j + 8] = NATTEN_SHUF(t[j], t[j + 8], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  }
}
#undef NATTEN_SHUF
#else
/// In-place transpose of a 16x16 block held as 16 row vectors, through memory (rows of register pieces).
NATTEN_INLINE void transpose16(vf r[16]) {
  alignas(64) float m[16][16], col[16];
  for (int i = 0; i < 16; ++i) vstore(m[i], r[i]);
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) col[j] = m[j][i];
    r[i] = vload(col);
  }
}
#endif

/// 2^x per lane, relative error ~2e-7; -inf and anything below -126 give exactly 0 (never a subnormal:
/// those cost microcode assists), large x saturates at 2^127.
NATTEN_INLINE vf vexp2(vf x) {
  const vi underflow = x < -126.f;
  x = vselect(x < -126.f, vset(-126.f), x);
  x = vselect(x > 127.f, vset(127.f), x);
#if defined(__AVX512F__)
  const __m512 xm = (__m512)x;
  // Masked forms with an explicit source: the unmasked ones trip GCC 12's -Wuninitialized.
  const vf n = (vf)_mm512_mask_roundscale_ps(xm, 0xffff, xm, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
  // Round to nearest integer with the 1.5*2^23 trick (exact for |x| < 2^22).
  const vf magic = vset(12582912.f);
  const vf n = (x + magic) - magic;
#endif
  const vf f = x - n;  // in [-0.5, 0.5]
  // Taylor polynomial of e^(f ln2), degree 6: accurate to ~1e-7 on [-0.5, 0.5].
  vf p = vset(1.5403530393381606e-4f);
  p = p * f + 1.3333558146428443e-3f;
  p = p * f + 9.6181291076284772e-3f;
  p = p * f + 5.5504108664821580e-2f;
  p = p * f + 2.4022650695910071e-1f;
  p = p * f + 6.9314718055994531e-1f;
  p = p * f + 1.f;
#if defined(__AVX512F__)
  const vf r = (vf)_mm512_mask_scalef_ps((__m512)p, 0xffff, (__m512)p, (__m512)n);
#else
  const vi e = (vto_int(n) + 127) << 23;
  vf scale;
  memcpy(&scale, &e, sizeof scale);
  const vf r = p * scale;
#endif
  return vselect(underflow, vzero(), r);
}

/// log2 of a positive normal float (scalar; used once per query for the LSE).
inline float log2_scalar(float x) { return __builtin_log2f(x); }

}  // namespace natten::cpu::NATTEN_SIMD
