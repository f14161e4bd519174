// Thin wrappers over the sm_80+ warp-level tensor-core and async-copy instructions used by the fused
// kernels (forward and backward). Device-only, header-only, every function __forceinline__.
//
// Conventions (PTX ISA "Matrix fragments for mma.m16n8k16"): in a warp, lane l = 4*g + t (g = l/4 is the
// "group", t = l%4 the "thread in group").
//   A (16x16, row-major, 4 x .b32 of two 16-bit values):  a0 = A[g][2t..2t+1],   a1 = A[g+8][2t..2t+1],
//                                                          a2 = A[g][2t+8..+9],  a3 = A[g+8][2t+8..+9]
//   B (16x8, "col" i.e. B[k][n], 2 x .b32):               b0 = B[2t..2t+1][g],  b1 = B[2t+8..+9][g]
//   C/D (16x8 fp32, 4 floats):                             c0,c1 = C[g][2t..2t+1], c2,c3 = C[g+8][2t..2t+1]
// So a C fragment pair of two adjacent n8 blocks re-packs directly into one A fragment (pack_* below):
// the P = softmax(S) tile never leaves registers.
//
// ldmatrix loads four (x4) or two (x2) 8x8 matrices of 16-bit values from shared memory; lanes 8m..8m+7
// give the row addresses of matrix m (16 contiguous bytes each). Without .trans, lane l receives
// M[l/4][2(l%4)..+1] of each matrix, which is the A/B fragment layout above; with .trans it receives the
// transposed element pair M[2(l%4)..+1][l/4] (used to read V, stored key-major, as a B operand).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace natten::fused {

/// Shared-memory byte address (32-bit, as ldmatrix/cp.async want it) of a generic pointer into __shared__.
__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// ---- mma.sync m16n8k16, fp32 accumulate -------------------------------------------------------------

/// Element-type tags selecting the mma flavour and the fp32 -> 16-bit packing.
struct F16 {
  using Storage = __half;
};
struct BF16 {
  using Storage = __nv_bfloat16;
};

/// d += a * b with a, b fp16 and fp32 accumulators (in place: d is both C and D).
__device__ __forceinline__ void mma_16816(F16, float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/// d += a * b with a, b bf16 and fp32 accumulators.
__device__ __forceinline__ void mma_16816(BF16, float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// ---- ldmatrix -------------------------------------------------------------------------------------

/// Four 8x8 16-bit matrices; lane l supplies the row address of row l%8 of matrix l/8.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

/// As ldmatrix_x4, each matrix transposed on the way into registers.
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

/// Two 8x8 matrices; lanes 0..15 supply the row addresses (the others are ignored but must be valid).
__device__ __forceinline__ void ldmatrix_x2(uint32_t (&r)[2], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(addr));
}

__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t (&r)[2], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(addr));
}

// ---- cp.async (global -> shared, bypassing registers) ------------------------------------------------

/// Copies 16 bytes global -> shared asynchronously; when !valid the 16 shared bytes are zero-filled and
/// nothing is read (src-size 0), so out-of-range rows and padded head-dim chunks cost no global traffic.
/// `gmem` must still be a valid 16-byte-aligned address (pass the tensor base when !valid).
__device__ __forceinline__ void cp_async_16(uint32_t smem, const void* gmem, bool valid) {
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem), "l"(gmem), "r"(src_bytes));
}

/// Closes the current group of cp.async operations (an empty group is legal and completes at once).
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

/// Waits until at most N committed groups are still in flight (this thread's copies only: follow with
/// __syncthreads() before other threads read the data).
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// ---- fragment packing ---------------------------------------------------------------------------------

/// Two fp32 -> one .b32 of two fp16 (lo in the low half), round to nearest even.
__device__ __forceinline__ uint32_t pack2(F16, float lo, float hi) {
  __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&h);
}

/// Two fp32 -> one .b32 of two bf16 (lo in the low half), round to nearest even.
__device__ __forceinline__ uint32_t pack2(BF16, float lo, float hi) {
  __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&h);
}

/// A fragment (16x16) of P from the C fragments of two adjacent n8 blocks (keys 16kk..16kk+15).
template <class T>
__device__ __forceinline__ void pack_a_from_c(T tag, uint32_t (&a)[4], const float (&c0)[4], const float (&c1)[4]) {
  a[0] = pack2(tag, c0[0], c0[1]);
  a[1] = pack2(tag, c0[2], c0[3]);
  a[2] = pack2(tag, c1[0], c1[1]);
  a[3] = pack2(tag, c1[2], c1[3]);
}

// ---- math ---------------------------------------------------------------------------------------------

/// 2^x by the SFU (ex2.approx.ftz: ~2 ulp, -inf -> +0, subnormal results flushed to 0).
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

/// log2(x) by the SFU (lg2.approx.ftz); used once per row for the LSE.
__device__ __forceinline__ float log2_approx(float x) {
  float y;
  asm("lg2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

/// log2(e): scores are pre-multiplied by scale * log2(e) so softmax uses exp2.
constexpr float kLog2e = 1.4426950408889634f;
/// ln(2): converts a base-2 log-sum-exp back to the natural log the LSE output uses.
constexpr float kLn2 = 0.6931471805599453f;

// ---- appended for the backward kernels --------------------------------------------------------------

/// Copies 4 bytes global -> shared asynchronously (through L1: .ca); when !valid the 4 shared bytes are
/// zero-filled and nothing is read. `gmem` must be a valid 4-byte-aligned address either way.
__device__ __forceinline__ void cp_async_4(uint32_t smem, const void* gmem, bool valid) {
  const int src_bytes = valid ? 4 : 0;
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem), "l"(gmem), "r"(src_bytes));
}

/// The lane id and the CTA's x index read from their special registers by a volatile move: the compiler
/// re-reads them where they are used instead of keeping a value live across a loop (a register-pressure
/// device of the forward kernel; the CPU emulation supplies its own versions).
__device__ __forceinline__ uint32_t volatile_lane_id() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%laneid;" : "=r"(r));
  return r;
}
__device__ __forceinline__ uint32_t volatile_ctaid_x() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%ctaid.x;" : "=r"(r));
  return r;
}

}  // namespace natten::fused
