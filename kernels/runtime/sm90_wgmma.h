// Thin wrappers over the sm_90a warpgroup tensor-core instructions (wgmma) used by the fused forward.
// Device-only, header-only. Everything here compiles to nothing useful below sm_90a: callers guard their
// use with NATTEN_WGMMA_ENABLED and the host only launches wgmma kernels on compute capability 9.0.
//
// Operand layouts (PTX ISA, "asynchronous warpgroup level matrix"): a warpgroup is 4 warps; warp w owns
// accumulator rows 16w..16w+15, and per n8 column block the thread layout is that of mma.sync m16n8 C
// fragments, so the sm_80 softmax/masking code reads wgmma accumulators unchanged. A from registers uses
// the m16n8k16 A-fragment layout per warp. Shared-memory operands are described by a 64-bit descriptor;
// the tiles use the canonical 128-byte-swizzle layout (tile_shape.h, gmma_swizzle).
#pragma once
#include <stdint.h>

#include "sm80_mma.h"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define NATTEN_WGMMA_ENABLED 1
#else
#define NATTEN_WGMMA_ENABLED 0
#endif

namespace natten::fused {

/// Shared-memory matrix descriptor, 128-byte swizzle: start address, leading-dimension byte offset
/// (K-major: unused; MN-major: stride between 64-element column blocks) and stride-dimension byte offset
/// (between 8-row groups: 1024 bytes in a 128-byte-row block). Addresses and offsets are in 16-byte units.
__device__ __forceinline__ uint64_t gmma_desc(uint32_t smem, uint32_t lead_bytes, uint32_t stride_bytes) {
  return uint64_t((smem & 0x3ffffu) >> 4) | (uint64_t(lead_bytes >> 4) << 16) | (uint64_t(stride_bytes >> 4) << 32) |
         (uint64_t(1) << 62);
}
/// The descriptor of the matrix `bytes` (a multiple of 16) past the one of `desc`, by one add to its address
/// field: no carry leaves the field while the address stays inside shared memory (under 256 KB), so a
/// product's k-steps share one descriptor built per stage instead of masking and shifting each address.
__device__ __forceinline__ uint64_t gmma_desc_advance(uint64_t desc, uint32_t bytes) {
  return (desc & 0xffffffff00000000ull) | uint32_t(uint32_t(desc) + (bytes >> 4));
}

#if NATTEN_WGMMA_ENABLED
/// Orders this thread's earlier register writes (accumulators, A fragments) before the next wgmma.
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
/// Waits until at most N committed wgmma groups of this warpgroup are pending.
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
/// Makes shared-memory writes of the generic proxy (cp.async, st.shared) visible to wgmma (async proxy).
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
/// Keeps a register live and unmoved across an asynchronous wgmma that reads or writes it.
__device__ __forceinline__ void pin(float& x) { asm volatile("" : "+f"(x)::"memory"); }
__device__ __forceinline__ void pin(uint32_t& x) { asm volatile("" : "+r"(x)::"memory"); }
#else
__device__ __forceinline__ void wgmma_fence() { __trap(); }
__device__ __forceinline__ void wgmma_commit() { __trap(); }
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  __trap();
}
__device__ __forceinline__ void fence_proxy_async() { __trap(); }
__device__ __forceinline__ void pin(float&) {}
__device__ __forceinline__ void pin(uint32_t&) {}
#endif

// The wrappers for one element type TAG (F16 / BF16) whose PTX name is TY ("f16" / "bf16"). Without
// sm_90a they trap (the host never launches wgmma kernels there).
#if NATTEN_WGMMA_ENABLED
#define NATTEN_WGMMA_ASM(...) asm volatile(__VA_ARGS__)
#else
#define NATTEN_WGMMA_ASM(...) __trap()
#endif

// The accumulator operands of a wgmma, read and written: d[0..31] (N = 64) or d[0..63] (N = 128).
#define NATTEN_WGMMA_ACC8(d, i)                                                                               \
  "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), \
      "+f"(d[i + 7])
#define NATTEN_WGMMA_ACC32(d) \
  NATTEN_WGMMA_ACC8(d, 0), NATTEN_WGMMA_ACC8(d, 8), NATTEN_WGMMA_ACC8(d, 16), NATTEN_WGMMA_ACC8(d, 24)
#define NATTEN_WGMMA_ACC40(d) NATTEN_WGMMA_ACC32(d), NATTEN_WGMMA_ACC8(d, 32)
#define NATTEN_WGMMA_ACC64(d)                                                                          \
  NATTEN_WGMMA_ACC32(d), NATTEN_WGMMA_ACC8(d, 32), NATTEN_WGMMA_ACC8(d, 40), NATTEN_WGMMA_ACC8(d, 48), \
      NATTEN_WGMMA_ACC8(d, 56)

#define NATTEN_DEFINE_WGMMA(TAG, TY)                                                                                   \
  /** D[64x64] (+)= A[64x16] B[16x64], A and B from shared memory, both K-major; scale_d = 0 overwrites D. */          \
  __device__ __forceinline__ void wgmma_m64n64k16_ss(TAG, float(&d)[32], uint64_t a, uint64_t b, int scale_d) {        \
    NATTEN_WGMMA_ASM(                                                                                                  \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"                                                                   \
        "wgmma.mma_async.sync.aligned.m64n64k16.f32." TY "." TY                                                        \
        " {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, "  \
        "%23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, 0, 0;\n}\n"                                  \
        : NATTEN_WGMMA_ACC32(d)                                                                                        \
        : "l"(a), "l"(b), "r"(scale_d));                                                                               \
  }                                                                                                                    \
  /** D[64x64] += A[64x16] B[16x64], A from registers (m16n8k16 A fragments per warp), B from shared memory            \
   * MN-major (transposed: rows of B are contiguous in N). */                                                          \
  __device__ __forceinline__ void wgmma_m64n64k16_rs(TAG, float(&d)[32], const uint32_t(&a)[4], uint64_t b) {          \
    NATTEN_WGMMA_ASM(                                                                                                  \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"                                                                   \
        "wgmma.mma_async.sync.aligned.m64n64k16.f32." TY "." TY                                                        \
        " {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, "  \
        "%23, %24, %25, %26, %27, %28, %29, %30, %31}, {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"                    \
        : NATTEN_WGMMA_ACC32(d)                                                                                        \
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1));                                                 \
  }                                                                                                                    \
  /** D[64x64] += A[64x16] B[16x64], A and B from shared memory, both MN-major (A stored as A^T rows of 64             \
   * elements, B as rows of N): a product whose operands were written transposed, e.g. the backward's dQ = dS K        \
   * from dS^T and K; scale_d = 0 overwrites D. */                                                                     \
  __device__ __forceinline__ void wgmma_m64n64k16_ss_tt(TAG, float(&d)[32], uint64_t a, uint64_t b, int scale_d) {     \
    NATTEN_WGMMA_ASM(                                                                                                  \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"                                                                   \
        "wgmma.mma_async.sync.aligned.m64n64k16.f32." TY "." TY                                                        \
        " {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, "  \
        "%23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, 1, 1;\n}\n"                                  \
        : NATTEN_WGMMA_ACC32(d)                                                                                        \
        : "l"(a), "l"(b), "r"(scale_d));                                                                               \
  }                                                                                                                    \
  /** As wgmma_m64n64k16_rs with N = 128. */                                                                           \
  __device__ __forceinline__ void wgmma_m64n128k16_rs(TAG, float(&d)[64], const uint32_t(&a)[4], uint64_t b) {         \
    NATTEN_WGMMA_ASM(                                                                                                  \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"                                                                   \
        "wgmma.mma_async.sync.aligned.m64n128k16.f32." TY "." TY                                                       \
        " {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, "  \
        "%23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, "    \
        "%44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, {%64, "  \
        "%65, %66, %67}, %68, p, 1, 1, 1;\n}\n"                                                                        \
        : NATTEN_WGMMA_ACC64(d)                                                                                        \
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1));                                                 \
  }                                                                                                                    \
  /** D[64x80] (+)= A[64x16] B[16x80], A and B from shared memory, both K-major; scale_d = 0 overwrites D. */          \
  __device__ __forceinline__ void wgmma_m64n80k16_ss(TAG, float(&d)[40], uint64_t a, uint64_t b, int scale_d) {        \
    NATTEN_WGMMA_ASM(                                                                                                  \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %42, 0;\n"                                                                   \
        "wgmma.mma_async.sync.aligned.m64n80k16.f32." TY "." TY                                                        \
        " {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, "  \
        "%23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39}, %40, %41, p, 1, 1, 0, " \
        "0;\n}\n"                                                                                                      \
        : NATTEN_WGMMA_ACC40(d)                                                                                        \
        : "l"(a), "l"(b), "r"(scale_d));                                                                               \
  }                                                                                                                    \
  /** D[64x128] (+)= A[64x16] B[16x128], A and B from shared memory, both K-major; scale_d = 0 overwrites D. */        \
  __device__ __forceinline__ void wgmma_m64n128k16_ss(TAG, float(&d)[64], uint64_t a, uint64_t b, int scale_d) {       \
    NATTEN_WGMMA_ASM(                                                                                                  \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                                                   \
        "wgmma.mma_async.sync.aligned.m64n128k16.f32." TY "." TY                                                       \
        " {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, "  \
        "%23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, "    \
        "%44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, "   \
        "%65, p, 1, 1, 0, 0;\n}\n"                                                                                     \
        : NATTEN_WGMMA_ACC64(d)                                                                                        \
        : "l"(a), "l"(b), "r"(scale_d));                                                                               \
  }

NATTEN_DEFINE_WGMMA(F16, "f16")
NATTEN_DEFINE_WGMMA(BF16, "bf16")
#undef NATTEN_DEFINE_WGMMA
#undef NATTEN_WGMMA_ASM

}  // namespace natten::fused
