// Device wrappers for the sm_90a warp-specialised kernels: mbarriers (init, arrive, expect-tx, parity wait),
// TMA tensor copies (cp.async.bulk.tensor into shared memory, completion on an mbarrier), the cp.async
// arrive-on-mbarrier, named barriers, register reallocation (setmaxnreg) and the m64n128 shared-shared wgmma
// that sm90_wgmma.h lacks. Header-only. Like sm90_wgmma.h, everything traps below sm_90a: the host only
// launches these kernels on compute capability 9.0.
#pragma once
#include <stdint.h>

#include "sm90_wgmma.h"

namespace natten::fused {

#if NATTEN_WGMMA_ENABLED
#define NATTEN_WS_ASM(...) asm volatile(__VA_ARGS__)
#else
#define NATTEN_WS_ASM(...) __trap()
#endif

/// Initialises an mbarrier in shared memory that completes a phase after `count` arrivals (plus any
/// expected transaction bytes).
__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
  NATTEN_WS_ASM("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
/// Makes mbarrier initialisations visible to the other threads and to the async proxy (TMA).
__device__ __forceinline__ void mbar_init_fence() {
  NATTEN_WS_ASM("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
/// One arrival on the barrier.
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  NATTEN_WS_ASM("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
/// One arrival that also announces `bytes` of transactions (TMA copies completing on this barrier).
__device__ __forceinline__ void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
  NATTEN_WS_ASM("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
/// Waits until the barrier's phase of parity `parity` has completed (try_wait suspends in hardware between
/// polls).
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
#if NATTEN_WGMMA_ENABLED
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
#else
  __trap();
#endif
}
/// The arrival of this thread on `bar` once all its earlier cp.async copies have landed (the barrier's
/// count includes this arrival: .noinc).
__device__ __forceinline__ void cp_async_mbar_arrive(uint32_t bar) {
  NATTEN_WS_ASM("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}
/// Waits for all of this thread's cp.async copies.
__device__ __forceinline__ void cp_async_wait_all() { NATTEN_WS_ASM("cp.async.wait_all;\n" ::: "memory"); }

/// Prefetches a tensor map (a __grid_constant__ kernel parameter) into the TMA unit's cache.
__device__ __forceinline__ void tma_prefetch(const void* tmap) {
  NATTEN_WS_ASM("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(tmap)) : "memory");
}
/// TMA copy of one box of a rank-4 / rank-5 tensor (coordinates innermost first, in elements, may lie out
/// of bounds: those elements are zero-filled) into shared memory at `dst`; completes `bytes` (the whole
/// box) on `bar`.
__device__ __forceinline__ void tma_load_4d(uint32_t dst, const void* tmap, uint32_t bar, int c0, int c1, int c2,
                                            int c3) {
  NATTEN_WS_ASM(
      "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, "
      "%5}], [%6];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(tmap)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar)
      : "memory");
}
__device__ __forceinline__ void tma_load_5d(uint32_t dst, const void* tmap, uint32_t bar, int c0, int c1, int c2,
                                            int c3, int c4) {
  NATTEN_WS_ASM(
      "cp.async.bulk.tensor.5d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, "
      "%5, %6}], [%7];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(tmap)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(c4), "r"(bar)
      : "memory");
}

/// Named barrier `id` (1..15; 0 is __syncthreads) over `Count` threads: wait for all of them.
template <int Count>
__device__ __forceinline__ void named_sync(uint32_t id) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "n"(Count) : "memory");
}
/// Arrival on named barrier `id` without waiting (the waiting side uses named_sync with the same count).
template <int Count>
__device__ __forceinline__ void named_arrive(uint32_t id) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "n"(Count) : "memory");
}

/// Register reallocation of the executing warpgroup: lowers (producer) or raises (consumers) the per-thread
/// register limit to N. Every warp of the warpgroup executes it.
template <int N>
__device__ __forceinline__ void regs_dec() {
  NATTEN_WS_ASM("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
}
template <int N>
__device__ __forceinline__ void regs_inc() {
  NATTEN_WS_ASM("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
}

#define NATTEN_DEFINE_WGMMA_SS128(TAG, TY)                                                                            \
  /** D[64x128] (+)= A[64x16] B[16x128], A and B from shared memory, both K-major; scale_d = 0 overwrites D. */       \
  __device__ __forceinline__ void wgmma_m64n128k16_ss(TAG, float(&d)[64], uint64_t a, uint64_t b, int scale_d) {      \
    NATTEN_WS_ASM(                                                                                                    \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                                                  \
        "wgmma.mma_async.sync.aligned.m64n128k16.f32." TY "." TY                                                      \
        " {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, " \
        "%23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, "   \
        "%44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, "  \
        "%65, p, 1, 1, 0, 0;\n}\n"                                                                                    \
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), \
          "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]),      \
          "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),     \
          "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]),     \
          "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]),     \
          "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]),     \
          "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]),     \
          "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])                   \
        : "l"(a), "l"(b), "r"(scale_d));                                                                              \
  }

NATTEN_DEFINE_WGMMA_SS128(F16, "f16")
NATTEN_DEFINE_WGMMA_SS128(BF16, "bf16")
#undef NATTEN_DEFINE_WGMMA_SS128
#undef NATTEN_WS_ASM

}  // namespace natten::fused
