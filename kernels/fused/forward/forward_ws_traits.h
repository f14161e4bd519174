// Sizes and shared-memory layout of the sm_90a warp-specialised fused forward ('wgmma-ws'), host and device.
//
// CTA = 3 warpgroups: warpgroup 0 is the producer (loads Q once and K/V tiles into a ring of Stages
// buffers), warpgroups 1 and 2 are consumers, each owning one half of the CTA's Q tile (64 queries: the
// Q tile is split in two along axis 0, e.g. 1-D 128 -> 2 x 64, 2-D 16x8 -> 2 x 8x8, 3-D 8x4x4 -> 2 x 4x4x4).
//
// Token order inside a tile is raster (last axis fastest): what one multi-dimensional TMA box writes.
// (The mma.sync / wgmma kernels use micro-tiled order, tile_shape.h; the two never share a tile.)
//
// Shared memory, every block 1024-byte aligned (128-byte swizzle atoms):
//   Q     2 buffers (work items alternate) x 2 halves x [DT/64 column blocks of 64 rows x 128 bytes]
//   K, V  Stages x [DT/64 column blocks of |KV| rows x 128 bytes] each
//   mbarriers: q_full[2], q_empty[2], k_full[Stages], v_full[Stages], k_empty[Stages], v_empty[Stages],
//              plan_full[2]
//   plans      2 buffers (with the Q buffers) of the work-item plan (forward_ws_plan.cuh)
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <type_traits>

#include "../../common/hostdevice.h"
#include "../../common/tile_shape.h"

namespace natten::fused {

/// A tile of X x Y x Z tokens in raster order (last axis fastest); power-of-two extents.
template <int Dims, int X, int Y, int Z>
struct RasterBox {
  static constexpr int kDims = Dims;
  static constexpr int kSize = X * Y * Z;
  static_assert(is_pow2(X) && is_pow2(Y) && is_pow2(Z), "power-of-two extents");
  static_assert((Dims >= 2 || Y == 1) && (Dims >= 3 || Z == 1), "unused axes have extent 1");
  /// Extent on axis a.
  static NATTEN_HD constexpr int ext(int a) { return a == 0 ? X : a == 1 ? Y : Z; }
  /// First bit of axis a's coordinate in a row index.
  static NATTEN_HD constexpr int shift(int a) { return a == 0 ? log2_int(Y * Z) : a == 1 ? log2_int(Z) : 0; }
  /// Coordinate on axis a of row n. A bit field of n: additive over rows with disjoint bits, which the
  /// loaders (forward_kernel.cuh load_spatial_tile) and the element mask rely on.
  static NATTEN_HD constexpr int coord(int n, int a) { return (n >> shift(a)) & (ext(a) - 1); }
};

/// The KV tile of a 2-D strip config (forward_ws_strip.h): N keys in whole rows of the window union, the
/// shape chosen per launch. Listed as 1 x N (ConfigEntry, fusedConfigs).
template <int N>
struct KvStrip {
  static constexpr int kDims = 2;
  static constexpr int kSize = N;
  static constexpr bool kStrip = true;
  static NATTEN_HD constexpr int ext(int a) { return a == 1 ? N : 1; }
};

/// Whether a KV tile type is a strip.
template <class KVTile, class = void>
struct IsStrip {
  static constexpr bool value = false;
};
template <class KVTile>
struct IsStrip<KVTile, decltype(void(KVTile::kStrip))> {
  static constexpr bool value = KVTile::kStrip;
};

/// The configuration of one 'wgmma-ws' kernel: QTile a TileShape<...> (the config lists' type) read here as
/// raster halves, KVTile a RasterBox or a KvStrip.
template <class QTile, class KVTile, int DT, int Stages>
struct WsTraits {
  static constexpr int kDims = QTile::kDims;
  /// KV tiles are strips whose shape the launch chooses (WsParams::kv_ext), not KV's fixed box.
  static constexpr bool kStrips = IsStrip<KVTile>::value;
  static_assert(!kStrips || kDims == 2, "strips are 2-D");
  static constexpr int kConsumers = 2;
  static constexpr int kThreads = 128 * (1 + kConsumers);
  /// One consumer's queries (the wgmma M of 64).
  using QHalf = RasterBox<kDims, QTile::ext(0) / 2, QTile::ext(1), QTile::ext(2)>;
  using KV = std::conditional_t<kStrips, KVTile, RasterBox<kDims, KVTile::ext(0), KVTile::ext(1), KVTile::ext(2)>>;
  static constexpr int kKV = KV::kSize;
  /// The cp.async loader fills a 128-key tile as two 64-row slabs, halving it along its outermost axis longer
  /// than 1 (so the second slab is rows 64-127 in raster order); slab_ext(a) is a slab's extent on axis a.
  static constexpr int kSlabAxis = KV::ext(0) > 1 ? 0 : KV::ext(1) > 1 ? 1 : 2;
  static NATTEN_HD constexpr int slab_ext(int a) { return a == kSlabAxis ? KV::ext(a) * 64 / kKV : KV::ext(a); }
  /// The CTA's Q tile extent on axis a (both halves).
  static NATTEN_HD constexpr int q_ext(int a) { return a == 0 ? 2 * QHalf::ext(0) : QHalf::ext(a); }
  static constexpr int kChunks = DT / 8;      // 16-byte chunks per row
  static constexpr int kColBlocks = DT / 64;  // 128-byte column blocks (one TMA box each)
  static constexpr int kStages = Stages;
  static_assert(QTile::kSize == 128 && QHalf::kSize == 64, "128 queries per CTA, 64 per consumer warpgroup");
  static_assert(kKV == 64 || kKV == 128 || (kStrips && kKV == 80), "64- or 128-key tiles (strips: also 80)");
  static_assert(DT == 64 || DT == 128, "head-dim tiers 64 and 128");
  static_assert(Stages >= 2 && Stages <= 4, "2 to 4 K/V stages");

  static constexpr uint32_t kQHalfBytes = 64u * DT * 2;
  static constexpr uint32_t kQBufBytes = 2 * kQHalfBytes;  // one work item's Q tile (both halves)
  static constexpr uint32_t kKVBytes = uint32_t(kKV) * DT * 2;
  static constexpr uint32_t kQOff = 0;
  static constexpr uint32_t kKOff = 2 * kQBufBytes;  // two Q buffers: the next item's Q loads during this one
  static constexpr uint32_t kVOff = kKOff + Stages * kKVBytes;
  static constexpr uint32_t kBarOff = kVOff + Stages * kKVBytes;
  static constexpr int kBarriers = 6 + 4 * Stages;
  /// A work-item plan: its walk and batch/head (under 256 bytes) and one 8-byte window per Q tile coordinate.
  static constexpr uint32_t kPlanBytes = (256u + 8u * (q_ext(0) + q_ext(1) + q_ext(2)) + 127u) / 128u * 128u;
  static constexpr uint32_t kPlanOff = (kBarOff + 8u * kBarriers + 127u) / 128u * 128u;
  static constexpr size_t kSmemBytes = kPlanOff + 2u * kPlanBytes;

  /// setmaxnreg targets: the producer keeps enough for the cp.async fallback's address math, the consumers
  /// take the rest (128 x 56 + 256 x 224 <= 64K registers of one SM; launch allocation 384 x 168).
  static constexpr int kProducerRegs = 56;
  static constexpr int kConsumerRegs = 224;
  static_assert(128 * kProducerRegs + 128 * kConsumers * kConsumerRegs == kThreads * 168,
                "setmaxnreg moves registers within the launch allocation (168 per thread): the consumers' raise "
                "must equal the producer's release, or it waits forever");
  /// Arrivals that free a stage: lane 0 of each consumer warp.
  static constexpr int kEmptyArrivals = 4 * kConsumers;
};

}  // namespace natten::fused
