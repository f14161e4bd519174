// Which KV tiles a CTA of the wgmma backward walks. The plain kernel: one, its grid position (x: the pass's grid
// slot, y: KV head, z: batch). The persistent kernel (kernel switch backward_persistent): a grid of at most one
// CTA per SM, CTA c walking tiles c, c + gridDim.x, ... of the same tile list (tile = slot + slots x (KV head
// + heads_kv x batch), the plain grid's order), so the producer can compute a tile's walk and load its first
// Q tiles while the consumers finish the previous tile, and load its K / V while they store dK / dV.
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>

namespace natten::fused {

/// A tile of the list: its grid slot, KV head and batch.
struct BwdWgTile {
  int64_t slot;
  int hk;
  int64_t b;
};

/// The tile list of one pass: the plain grid's tiles in its order.
struct BwdWgSchedule {
  int64_t tiles;  // slots x heads_kv x batch
  int64_t slots;  // grid slots per (batch, KV head): the plain grid's x
  int heads_kv;

  __host__ __device__ BwdWgTile at(int64_t tile) const {
    const int64_t per_batch = slots * heads_kv;
    return BwdWgTile{tile % slots, (int)((tile / slots) % heads_kv), tile / per_batch};
  }
};

/// A persistent CTA's way through its tiles, kept the same by the producer and the consumers (their barrier
/// phases follow from these counts): the tile, how many tiles came before it (walk buffer i & 1, that buffer's
/// use i >> 1) and how many of those had a KV tile to load (the KV barriers' phase).
struct BwdWgTileSeq {
  int64_t tile;
  int i = 0;
  int64_t kv = 0;

  __device__ __forceinline__ BwdWgTileSeq() : tile((int64_t)blockIdx.x) {}
  __device__ __forceinline__ bool valid(const BwdWgSchedule& s) const { return tile < s.tiles; }
  __device__ __forceinline__ void next() {
    tile += gridDim.x;
    ++i;
  }
  __device__ __forceinline__ int buffer() const { return i & 1; }
  /// Parity of this tile's use of its walk buffer.
  __device__ __forceinline__ uint32_t use_parity() const { return (uint32_t)(i >> 1) & 1u; }
};

/// The tile list of a plain grid.
inline BwdWgSchedule bwd_wg_schedule(dim3 grid) {
  return BwdWgSchedule{(int64_t)grid.x * grid.y * grid.z, (int64_t)grid.x, (int)grid.y};
}

}  // namespace natten::fused
