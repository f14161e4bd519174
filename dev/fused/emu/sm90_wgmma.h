// CPU emulation of kernels/runtime/sm90_wgmma.h (same names and semantics), for dev/fused/emu/emu_check.cc:
// a wgmma is a collective of the issuing warpgroup's 128 threads, computed at issue (so commit / wait are
// no-ops) by its first thread from the shared-memory descriptors (128-byte swizzle) and the other threads'
// register fragments and accumulators.
#pragma once
#include <stdint.h>

#include "cuda_emu.h"
#include "sm80_mma.h"

#define NATTEN_WGMMA_ENABLED 1

namespace natten::fused {

inline uint64_t gmma_desc(uint32_t smem, uint32_t lead_bytes, uint32_t stride_bytes) {
  return uint64_t((smem & 0x3ffffu) >> 4) | (uint64_t(lead_bytes >> 4) << 16) | (uint64_t(stride_bytes >> 4) << 32) |
         (uint64_t(1) << 62);
}
/// The descriptor of the matrix `bytes` (a multiple of 16) past the one of `desc`, by one add to its address
/// field: no carry leaves the field while the address stays inside shared memory (under 256 KB), so a
/// product's k-steps share one descriptor built per stage instead of masking and shifting each address.
inline uint64_t gmma_desc_advance(uint64_t desc, uint32_t bytes) {
  return (desc & 0xffffffff00000000ull) | uint32_t(uint32_t(desc) + (bytes >> 4));
}
inline void wgmma_fence() {}
inline void wgmma_commit() {}
template <int N>
inline void wgmma_wait() {}
inline void fence_proxy_async() {}
inline void pin(float&) {}
inline void pin(uint32_t&) {}

namespace emu90 {

/// The byte a 128-byte-swizzled access to `logical` (an offset into shared memory) touches.
inline uint32_t swizzle128(uint32_t logical) { return logical ^ (((logical >> 7) & 7u) << 4); }

/// Element (row, k) of a K-major operand (rows of 64 elements per 128-byte line, 8 lines per stride_bytes).
inline uint32_t k_major(uint64_t desc, int row, int k) {
  const uint32_t start = uint32_t(desc & 0x3fff) << 4, sbo = uint32_t((desc >> 32) & 0x3fff) << 4;
  return swizzle128(start + (row / 8) * sbo + (row % 8) * 128 + k * 2);
}
/// Element (mn, k) of an MN-major operand (64 MN-elements per 128-byte line, 8 k-lines per stride_bytes, one
/// 64-element column block per lead_bytes).
inline uint32_t mn_major(uint64_t desc, int mn, int k) {
  const uint32_t start = uint32_t(desc & 0x3fff) << 4, lbo = uint32_t((desc >> 16) & 0x3fff) << 4,
                 sbo = uint32_t((desc >> 32) & 0x3fff) << 4;
  return swizzle128(start + (mn / 64) * lbo + (k / 8) * sbo + (k % 8) * 128 + (mn % 64) * 2);
}

struct Exchange {
  float* d[128];
  uint32_t a[128][4];
};
inline Exchange g_x[emu::kMaxThreads / 128];

/// D[64 x N] (+)= A[64 x 16] B[N x 16]^T for the calling warpgroup. a_desc = 0: A from the fragments.
template <class Tag, int N>
inline void mma(float* d, const uint32_t* a_frag, uint64_t a_desc, bool a_mn_major, uint64_t b_desc, bool b_mn_major,
                bool accumulate) {
  const int g = threadIdx.x / 128, ct = threadIdx.x % 128;
  Exchange& x = g_x[g];
  x.d[ct] = d;
  if (a_frag)
    for (int i = 0; i < 4; ++i) x.a[ct][i] = a_frag[i];
  emu::group_sync();
  if (ct == 0) {
    auto A = [&](int m, int k) -> float {
      if (a_frag) {  // per warp an m16n8k16 A fragment: rows 16 w + lane / 4 (+ 8), cols 2 (lane % 4) (+ 8)
        const int w = m / 16, r = m % 16, lane = 4 * (r % 8) + (k % 8) / 2, reg = (r >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0);
        const uint32_t v = x.a[32 * w + lane][reg];
        return Tag::to_float((uint16_t)((k & 1) ? v >> 16 : v & 0xffff));
      }
      return Tag::to_float(smem16(a_mn_major ? mn_major(a_desc, m, k) : k_major(a_desc, m, k)));
    };
    auto B = [&](int n, int k) -> float {
      return Tag::to_float(smem16(b_mn_major ? mn_major(b_desc, n, k) : k_major(b_desc, n, k)));
    };
    float av[64][16], bv[N][16];
    for (int m = 0; m < 64; ++m)
      for (int k = 0; k < 16; ++k) av[m][k] = A(m, k);
    for (int n = 0; n < N; ++n)
      for (int k = 0; k < 16; ++k) bv[n][k] = B(n, k);
    for (int t = 0; t < 128; ++t) {  // accumulator layout: per 8-column block the m16n8 C fragment of the warp
      const int w = t / 32, lane = t % 32;
      for (int i = 0; i < N / 2; ++i) {
        const int m = 16 * w + lane / 4 + ((i % 4) >= 2 ? 8 : 0), n = 8 * (i / 4) + 2 * (lane % 4) + (i % 2);
        float acc = accumulate ? x.d[t][i] : 0.f;
        for (int k = 0; k < 16; ++k) acc += av[m][k] * bv[n][k];
        x.d[t][i] = acc;
      }
    }
  }
  emu::group_sync();
}

}  // namespace emu90

template <class Tag>
inline void wgmma_m64n64k16_ss(Tag, float (&d)[32], uint64_t a, uint64_t b, int scale_d) {
  emu90::mma<Tag, 64>(d, nullptr, a, false, b, false, scale_d != 0);
}
template <class Tag>
inline void wgmma_m64n64k16_rs(Tag, float (&d)[32], const uint32_t (&a)[4], uint64_t b) {
  emu90::mma<Tag, 64>(d, a, 0, false, b, true, true);
}
template <class Tag>
inline void wgmma_m64n64k16_ss_tt(Tag, float (&d)[32], uint64_t a, uint64_t b, int scale_d) {
  emu90::mma<Tag, 64>(d, nullptr, a, true, b, true, scale_d != 0);
}
template <class Tag>
inline void wgmma_m64n128k16_rs(Tag, float (&d)[64], const uint32_t (&a)[4], uint64_t b) {
  emu90::mma<Tag, 128>(d, a, 0, false, b, true, true);
}
template <class Tag>
inline void wgmma_m64n80k16_ss(Tag, float (&d)[40], uint64_t a, uint64_t b, int scale_d) {
  emu90::mma<Tag, 80>(d, nullptr, a, false, b, false, scale_d != 0);
}
template <class Tag>
inline void wgmma_m64n128k16_ss(Tag, float (&d)[64], uint64_t a, uint64_t b, int scale_d) {
  emu90::mma<Tag, 128>(d, nullptr, a, false, b, false, scale_d != 0);
}

}  // namespace natten::fused
