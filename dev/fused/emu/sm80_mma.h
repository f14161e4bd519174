// CPU emulation of kernels/runtime/sm80_mma.h (same names and semantics), for wip/emu/emu_check.cc.
#pragma once
#include <stdint.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include "../common/dtype.h"
#include "cuda_emu.h"

namespace natten::fused {

/// 16-bit storage types standing in for __half / __nv_bfloat16.
struct EmuHalf {
  uint16_t bits;
};
struct EmuBf16 {
  uint16_t bits;
};
struct F16 {
  using Storage = EmuHalf;
  static float to_float(uint16_t b) { return half_to_float(b); }
  static uint16_t from_float(float f) { return float_to_half(f); }
};
struct BF16 {
  using Storage = EmuBf16;
  static float to_float(uint16_t b) { return bf16_to_float(b); }
  static uint16_t from_float(float f) { return float_to_bf16(f); }
};

/// "Shared address": the byte offset into the CTA's shared memory.
inline uint32_t smem_addr(const void* p) { return (uint32_t)(static_cast<const unsigned char*>(p) - emu::g_cta.smem); }

struct WarpExchange {
  uint32_t addr[32];
  uint32_t a[32][4];
  uint32_t b[32][2];
};
inline WarpExchange g_x[emu::kMaxThreads / 32];

inline uint16_t smem16(uint32_t addr) {
  uint16_t v;
  memcpy(&v, emu::g_cta.smem + addr, 2);
  return v;
}

/// Misaligned addresses fault on the GPU: fail loudly here too.
inline void require_aligned(uint64_t addr, unsigned align, const char* what) {
  if (addr % align) {
    fprintf(stderr, "misaligned %s address %llu (needs %u)\n", what, (unsigned long long)addr, align);
    abort();
  }
}

template <int M>
inline void ldmatrix(uint32_t* r, uint32_t addr, bool trans) {
  const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
  require_aligned(addr, 16, "ldmatrix row");
  g_x[w].addr[lane] = addr;
  emu::warp_sync();
  const int g = lane / 4, t = lane % 4;
  for (int m = 0; m < M; ++m) {
    uint16_t lo, hi;
    if (!trans) {
      const uint32_t row = g_x[w].addr[8 * m + g];
      lo = smem16(row + 2 * (2 * t));
      hi = smem16(row + 2 * (2 * t + 1));
    } else {
      lo = smem16(g_x[w].addr[8 * m + 2 * t] + 2 * g);
      hi = smem16(g_x[w].addr[8 * m + 2 * t + 1] + 2 * g);
    }
    r[m] = (uint32_t)lo | ((uint32_t)hi << 16);
  }
  emu::warp_sync();
}
inline void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) { ldmatrix<4>(r, addr, false); }
inline void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) { ldmatrix<4>(r, addr, true); }
inline void ldmatrix_x2(uint32_t (&r)[2], uint32_t addr) { ldmatrix<2>(r, addr, false); }
inline void ldmatrix_x2_trans(uint32_t (&r)[2], uint32_t addr) { ldmatrix<2>(r, addr, true); }

template <class Tag>
inline void mma_16816(Tag, float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
  for (int i = 0; i < 4; ++i) g_x[w].a[lane][i] = a[i];
  for (int i = 0; i < 2; ++i) g_x[w].b[lane][i] = b[i];
  emu::warp_sync();
  auto A = [&](int row, int col) {  // A[row][col], 16 x 16
    const int g = row % 8, t = (col % 8) / 2, reg = (row >= 8 ? 1 : 0) + (col >= 8 ? 2 : 0);
    const uint32_t v = g_x[w].a[4 * g + t][reg];
    return Tag::to_float((uint16_t)((col & 1) ? v >> 16 : v & 0xffff));
  };
  auto B = [&](int k, int n) {  // B[k][n], 16 x 8
    const int t = (k % 8) / 2, reg = k >= 8 ? 1 : 0;
    const uint32_t v = g_x[w].b[4 * n + t][reg];
    return Tag::to_float((uint16_t)((k & 1) ? v >> 16 : v & 0xffff));
  };
  const int g = lane / 4, t = lane % 4;
  for (int i = 0; i < 4; ++i) {
    const int row = g + (i >= 2 ? 8 : 0), col = 2 * t + (i & 1);
    float acc = d[i];
    for (int k = 0; k < 16; ++k) acc += A(row, k) * B(k, col);
    d[i] = acc;
  }
  emu::warp_sync();
}

inline void cp_async_16(uint32_t smem, const void* gmem, bool valid) {
  emu::jitter();
  require_aligned(smem, 16, "cp.async shared");
  require_aligned((uint64_t)(uintptr_t)gmem, 16, "cp.async global");
  if (valid) memcpy(emu::g_cta.smem + smem, gmem, 16);
  else memset(emu::g_cta.smem + smem, 0, 16);
}
inline void cp_async_4(uint32_t smem, const void* gmem, bool valid) {
  require_aligned(smem, 4, "cp.async shared");
  require_aligned((uint64_t)(uintptr_t)gmem, 4, "cp.async global");
  if (valid) memcpy(emu::g_cta.smem + smem, gmem, 4);
  else memset(emu::g_cta.smem + smem, 0, 4);
}
inline void cp_async_commit() {}
template <int N>
inline void cp_async_wait() {}

template <class Tag>
inline uint32_t pack2(Tag, float lo, float hi) {
  return (uint32_t)Tag::from_float(lo) | ((uint32_t)Tag::from_float(hi) << 16);
}
template <class T>
inline void pack_a_from_c(T tag, uint32_t (&a)[4], const float (&c0)[4], const float (&c1)[4]) {
  a[0] = pack2(tag, c0[0], c0[1]);
  a[1] = pack2(tag, c0[2], c0[3]);
  a[2] = pack2(tag, c1[0], c1[1]);
  a[3] = pack2(tag, c1[2], c1[3]);
}
inline float exp2_approx(float x) { return std::exp2(x); }
inline float log2_approx(float x) { return std::log2(x); }
inline uint32_t volatile_lane_id() { return threadIdx.x & 31u; }
inline uint32_t volatile_ctaid_x() { return blockIdx.x; }
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

}  // namespace natten::fused
