// Sizes and shared-memory plan of the sm_90a fused backward on wgmma (backwardKernel 'wgmma').
//
// CTA = 3 warpgroups over one KV tile of 128 keys (a box inside one dilation group, split in two 64-key
// halves along axis 0, e.g. 1-D 128 -> 2 x 64, 2-D 16x8 -> 2 x 8x8): warpgroup 0 produces (loads the KV tile
// once, then Q, dO, LSE, Delta, tokens and masks of each Q tile of the walk into a ring of kStages stages),
// warpgroups 1 and 2 consume, each owning one 64-key half: wgmma's M of 64 is always keys (S^T, dP^T, dV,
// dK) or queries (dQ). Q tiles have 64 queries (any shape of the backward's 64-row list).
//
// Tiles are stored in the wgmma 128-byte-swizzle layout (tile_shape.h gmma_swizzle): K-major for the
// S^T / dP^T operands, and the same bytes serve as the MN-major B operands of dV, dK and dQ.
//   K, V    [DT/64 column blocks][128 rows][128 bytes] each, loaded once
//   Q, dO   kStages x [DT/64][64 rows][128 bytes] each
//   dS^T    2 buffers (alternating steps) x per consumer [64 keys][64 queries]: together the 128 x 64 A
//           operand of dQ (MN-major), KV-parallel dQ only
//   dQ      [64 queries][DT + 8] fp32: the step owner's dQ rows, each added to the workspace by one TMA bulk
//           reduction (rows padded by 32 bytes: conflict-free stores from the accumulator layout)
//   per stage: LSE/Delta pairs, masks, query tokens, head, interior flag; mbarriers; the walk.
#pragma once
#include <stdint.h>
#include <vector_types.h>

#include "../../runtime/sm80_mma.h"
#include "fna_backward_walk.h"

namespace natten::fused {

/// Keys per KV tile / per consumer half, queries per Q tile of the wgmma backward.
constexpr int kBwdWgKvRows = 128;
constexpr int kBwdWgHalfRows = 64;
constexpr int kBwdWgQRows = 64;
/// Threads per CTA: one producer and two consumer warpgroups.
constexpr int kBwdWgThreads = 384;
/// Ring stages (Q, dO and their metadata).
constexpr int kBwdWgStages = 2;
/// setmaxnreg targets: 128 x 40 + 256 x 232 = 384 x 168, the launch allocation at one CTA per SM.
constexpr int kBwdWgProducerRegs = 40;
constexpr int kBwdWgConsumerRegs = 232;
static_assert(128 * kBwdWgProducerRegs + 256 * kBwdWgConsumerRegs == kBwdWgThreads * 168,
              "setmaxnreg moves registers within the launch allocation: the raise must equal the release");
/// Named barrier of the producer warpgroup (128 threads) in the persistent kernel, once per tile (the
/// consumers' barriers are 1-3, fna_backward_wgmma_consumer.cuh).
constexpr uint32_t kBwdWgProducerBarrier = 4;
/// Arrivals on a stage's full barrier: a cp.async arrival (.noinc) and a release arrival (the generic stores
/// of tokens and masks) per producer thread. On its empty barrier: every consumer thread, each after its own
/// reads of the stage (the consumers read its tokens, masks, LSE and Delta with ordinary loads, so each
/// thread's arrival orders its own reads before the producer's next writes).
constexpr uint32_t kBwdWgFullArrivals = 256;
constexpr uint32_t kBwdWgEmptyArrivals = 256;

template <class Tag, int DT>
struct BwdWgSmem {
  using S = typename Tag::Storage;
  static constexpr int kChunks = DT / 8;  // 16-byte chunks per row
  static_assert(DT == 64 || DT == 128, "head-dim tiers 64 and 128");
  alignas(1024) S k[kBwdWgKvRows * DT];
  alignas(1024) S v[kBwdWgKvRows * DT];
  alignas(1024) S q[kBwdWgStages][kBwdWgQRows * DT];
  alignas(1024) S dout[kBwdWgStages][kBwdWgQRows * DT];
  alignas(1024) S ds[2][2][kBwdWgHalfRows * kBwdWgQRows];  // [step parity][half]
  alignas(16) float dq[kBwdWgQRows][DT + 8];
  float4 ld[kBwdWgStages][kBwdWgQRows / 2];  // per query pair (c, c+1): LSE c, Delta c, LSE c+1, Delta c+1
  uint32_t mask[kBwdWgStages][2][2][kBwdWgQRows];  // [stage][half][key rows 0-31 / 32-63][query]
  int64_t qtok[kBwdWgStages][kBwdWgQRows];          // token of each query row, -1 for padding
  int head[kBwdWgStages];
  int interior[kBwdWgStages];
  uint64_t kv_full;
  uint64_t full[kBwdWgStages];
  uint64_t empty[kBwdWgStages];
  uint32_t rowq[kBwdWgQRows];    // packed per-axis offsets of Q tile rows
  uint32_t rowk[kBwdWgKvRows];   // and of KV tile rows
  int half_tile[kMaxDims];       // a consumer half's KV box (axis 0 halved)
  BwdKvWalk walk;                // the CTA's walk (the persistent kernel: walk buffer 0)
  // The persistent kernel only (fna_backward_wgmma_kernel.cuh, fna_backward_wgmma_schedule.h): the second walk
  // buffer, and the barriers that hand a tile's walk to the consumers (full: the producer's first warp wrote
  // it; empty: the consumers stored the tile's dK / dV) and the KV tile back to the producer (the consumers'
  // last read of K and V).
  BwdKvWalk walk_alt;
  uint64_t walk_full[2];
  uint64_t walk_empty[2];
  uint64_t kv_empty;

  __device__ __forceinline__ BwdKvWalk& walk_buffer(int i) { return i ? walk_alt : walk; }
};

/// Dynamic shared memory of the wgmma backward kernel at a tier (64 or 128), plus the 1024-byte alignment slack.
inline size_t bwd_wgmma_smem_bytes(int tier) {
  return (tier == 64 ? sizeof(BwdWgSmem<F16, 64>) : sizeof(BwdWgSmem<F16, 128>)) + 1024;
}

}  // namespace natten::fused
