// Device wrappers for the sm_90a warp-specialised kernels: mbarriers (init, arrive, expect-tx, parity wait),
// TMA tensor copies (cp.async.bulk.tensor into shared memory, completion on an mbarrier), the cp.async
// arrive-on-mbarrier, TMA bulk reductions into global memory, named barriers, register reallocation
// (setmaxnreg) and the m64n128 shared-shared wgmma that sm90_wgmma.h lacks. Header-only. Like sm90_wgmma.h,
// everything traps below sm_90a: the host only launches these kernels on compute capability 9.0.
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
/// Announces `bytes` of transactions on the barrier's current phase without arriving (TMA copies completing
/// on it), for a thread whose arrival comes later.
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
  NATTEN_WS_ASM("mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
/// Waits until the barrier's phase of parity `parity` has completed (try_wait suspends in hardware between
/// polls).
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
#if NATTEN_WGMMA_ENABLED
  uint32_t done = 0;
  do {
    asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
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

/// TMA bulk tensor stores: the box of `tmap` at the coordinates (innermost first) from shared memory at `src`
/// (its 128-byte-swizzled layout, 1024-byte aligned), in this thread's bulk group; elements outside the tensor
/// are not written. The source must not change until bulk_wait_read has returned.
__device__ __forceinline__ void tma_store_4d(const void* tmap, uint32_t src, int c0, int c1, int c2, int c3) {
  NATTEN_WS_ASM("cp.async.bulk.tensor.4d.global.shared::cta.tile.bulk_group [%0, {%1, %2, %3, %4}], [%5];\n" ::"l"(
                    reinterpret_cast<uint64_t>(tmap)),
                "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(src)
                : "memory");
}
__device__ __forceinline__ void tma_store_5d(const void* tmap, uint32_t src, int c0, int c1, int c2, int c3, int c4) {
  NATTEN_WS_ASM("cp.async.bulk.tensor.5d.global.shared::cta.tile.bulk_group [%0, {%1, %2, %3, %4, %5}], [%6];\n" ::"l"(
                    reinterpret_cast<uint64_t>(tmap)),
                "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(c4), "r"(src)
                : "memory");
}

/// TMA bulk reduction: adds `bytes` (a multiple of 16) of fp32 from shared memory at `src` (16-byte aligned)
/// element-wise into global memory at `dst` (16-byte aligned), asynchronously, in this thread's bulk group.
/// The source must not change until bulk_wait_read has returned.
__device__ __forceinline__ void bulk_reduce_add_f32(float* dst, uint32_t src, uint32_t bytes) {
  NATTEN_WS_ASM("cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32 [%0], [%1], %2;\n" ::"l"(dst), "r"(src),
                "r"(bytes)
                : "memory");
}
/// Closes this thread's current bulk group.
__device__ __forceinline__ void bulk_commit() { NATTEN_WS_ASM("cp.async.bulk.commit_group;\n" ::: "memory"); }
/// Waits until at most N of this thread's bulk groups still read their shared-memory sources.
template <int N>
__device__ __forceinline__ void bulk_wait_read() {
  NATTEN_WS_ASM("cp.async.bulk.wait_group.read %0;\n" ::"n"(N) : "memory");
}
/// Waits until at most N of this thread's bulk groups are pending (their global writes done).
template <int N>
__device__ __forceinline__ void bulk_wait() {
  NATTEN_WS_ASM("cp.async.bulk.wait_group %0;\n" ::"n"(N) : "memory");
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

#undef NATTEN_WS_ASM

}  // namespace natten::fused
