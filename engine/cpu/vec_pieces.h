// The 16-lane vectors of vec.h below AVX-512: a struct of native-width pieces (two 8-lane AVX vectors, or
// four 4-lane SSE vectors) with the operators the engine uses. GCC keeps a 64-byte vector-extension type
// that is wider than the target's registers in memory (a store and reload around every operation, ~10x
// slower than register pieces); a struct of register-sized vectors stays in registers.
#pragma once
#include <stdint.h>

#include "level.h"
#if defined(__FMA__)
#include <immintrin.h>
#endif

namespace natten::cpu::NATTEN_SIMD {

#if defined(__AVX__)
constexpr int kPieceLanes = 8;
#else
constexpr int kPieceLanes = 4;
#endif
constexpr int kPieces = 16 / kPieceLanes;
typedef float vpf __attribute__((vector_size(kPieceLanes * 4)));
typedef int32_t vpi __attribute__((vector_size(kPieceLanes * 4)));

/// 16 int32 lanes (masks: all ones / all zeros per lane).
struct vi {
  vpi p[kPieces];
  int32_t operator[](int i) const { return p[i / kPieceLanes][i % kPieceLanes]; }
};
/// 16 float lanes.
struct vf {
  vpf p[kPieces];
  float operator[](int i) const { return p[i / kPieceLanes][i % kPieceLanes]; }
  /// Lane i as an lvalue (GCC and Clang let a float alias the elements of a float vector).
  float& operator[](int i) { return reinterpret_cast<float*>(p)[i]; }
};

// Each operator applies the piece-wise operation to every piece (loops of constant trip count: unrolled).
#define NATTEN_PIECEWISE(R, expr)                    \
  R r;                                               \
  for (int k = 0; k < kPieces; ++k) r.p[k] = (expr); \
  return r;

#define NATTEN_VF_ARITH(op)                                                                                   \
  inline __attribute__((always_inline)) vf operator op(vf a, vf b) { NATTEN_PIECEWISE(vf, a.p[k] op b.p[k]) } \
  inline __attribute__((always_inline)) vf operator op(vf a, float b) { NATTEN_PIECEWISE(vf, a.p[k] op b) }   \
  inline __attribute__((always_inline)) vf operator op(float a, vf b) { NATTEN_PIECEWISE(vf, a op b.p[k]) }   \
  inline __attribute__((always_inline)) vf& operator op##=(vf& a, vf b) { return a = a op b; }                \
  inline __attribute__((always_inline)) vf& operator op##=(vf& a, float b) { return a = a op b; }
NATTEN_VF_ARITH(+)
NATTEN_VF_ARITH(-)
NATTEN_VF_ARITH(*)
NATTEN_VF_ARITH(/)
#undef NATTEN_VF_ARITH

inline __attribute__((always_inline)) vf operator-(vf a){NATTEN_PIECEWISE(vf, -a.p[k])}
#define NATTEN_VF_COMPARE(op)                                                                                 \
  inline __attribute__((always_inline)) vi operator op(vf a, vf b) { NATTEN_PIECEWISE(vi, a.p[k] op b.p[k]) } \
  inline __attribute__((always_inline)) vi operator op(vf a, float b) { NATTEN_PIECEWISE(vi, a.p[k] op b) }
NATTEN_VF_COMPARE(<) NATTEN_VF_COMPARE(>) NATTEN_VF_COMPARE(<=) NATTEN_VF_COMPARE(>=) NATTEN_VF_COMPARE(==)
    NATTEN_VF_COMPARE(!=)
#undef NATTEN_VF_COMPARE

#define NATTEN_VI_OP(op)                                                                                      \
  inline __attribute__((always_inline)) vi operator op(vi a, vi b) { NATTEN_PIECEWISE(vi, a.p[k] op b.p[k]) } \
  inline __attribute__((always_inline)) vi operator op(vi a, int32_t b) { NATTEN_PIECEWISE(vi, a.p[k] op b) }
        NATTEN_VI_OP(+) NATTEN_VI_OP(&) NATTEN_VI_OP(|) NATTEN_VI_OP(<<) NATTEN_VI_OP(==) NATTEN_VI_OP(!=)
#undef NATTEN_VI_OP

    /// Lane-wise select: m is an all-ones / all-zeros mask per lane.
    inline __attribute__((always_inline)) vf vselect(vi m, vf a, vf b) {
  NATTEN_PIECEWISE(vf, m.p[k] ? a.p[k] : b.p[k])
}
/// a * b + c with one rounding where the target has FMA.
inline __attribute__((always_inline)) vf vfma(vf a, vf b, vf c) {
#if defined(__FMA__) && defined(__AVX__)
  NATTEN_PIECEWISE(vf, (vpf)_mm256_fmadd_ps((__m256)a.p[k], (__m256)b.p[k], (__m256)c.p[k]))
#else
  return a * b + c;
#endif
}
/// Lanes converted float -> int32 (truncating) and int32 -> float.
inline __attribute__((always_inline)) vi vto_int(vf a) { NATTEN_PIECEWISE(vi, __builtin_convertvector(a.p[k], vpi)) }
inline __attribute__((always_inline)) vf vto_float(vi a) { NATTEN_PIECEWISE(vf, __builtin_convertvector(a.p[k], vpf)) }
/// Loads and stores, one register-sized access per piece (a struct copy would go through 16-byte pieces
/// on the stack, and a register load of them then stalls on store forwarding). vload/vstore: 64-byte
/// aligned addresses; vloadu/vstoreu: any.
typedef float vpfu __attribute__((vector_size(kPieceLanes * 4), aligned(4)));
inline __attribute__((always_inline)) vf vload(const float* p) {
  NATTEN_PIECEWISE(vf, *reinterpret_cast<const vpf*>(p + k * kPieceLanes))
}
inline __attribute__((always_inline)) vf vloadu(const float* p) {
  NATTEN_PIECEWISE(vf, *reinterpret_cast<const vpfu*>(p + k * kPieceLanes))
}
inline __attribute__((always_inline)) void vstore(float* p, vf v) {
  for (int k = 0; k < kPieces; ++k) *reinterpret_cast<vpf*>(p + k * kPieceLanes) = v.p[k];
}
inline __attribute__((always_inline)) void vstoreu(float* p, vf v) {
  for (int k = 0; k < kPieces; ++k) *reinterpret_cast<vpfu*>(p + k * kPieceLanes) = v.p[k];
}
#undef NATTEN_PIECEWISE

}  // namespace natten::cpu::NATTEN_SIMD
