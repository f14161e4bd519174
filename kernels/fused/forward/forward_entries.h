// The compiled fused-forward configurations: one entry per (dims, Q tile, KV tile, head-dim tier, dtype),
// each with its launcher. The lists are defined by NATTEN_FORWARD_CONFIGS_{1,2,3}D below and instantiated
// in forward_{1,2,3}d.cu (one file per dims so a 2-core CI build compiles them in parallel); the family's
// registry over them is ForwardConfigs (forward.h, the shape of kernels/runtime/family_configs.h).
//
// Adding a config: append an X(...) line; KV tile extents are powers of two and multiples of the micro
// tile (1-D 16, 2-D 4x4, 3-D 2x2x4, see tile_shape.h); |Q tile| is 64 (4 warps) or 128 (8 warps).
// Every config costs one kernel per dtype per architecture: keep the list short.
#pragma once
#include <cuda_runtime.h>
#include <vector>
#include "../../common/dtype.h"
#include "../../common/op_args.h"
#include "../../runtime/family_configs.h"

namespace natten::fused {

/// X(dims, qx, qy, qz, kvx, kvy, kvz, head_dim_tier, stages). Stages 3 (one barrier per KV tile) where the
/// shared memory allows two CTAs per SM on sm_80/sm_90; the 2-stage 128-query configs at tier 128 also
/// fit the 99 KB of sm_86/sm_89. 3-D 4x4x4 at tiers 64/128 keeps 2 stages: 3 spilled registers there and
/// measured no faster (bench/NOTES.md).
#define NATTEN_FORWARD_CONFIGS_1D(X) \
  X(1, 64, 1, 1, 64, 1, 1, 32, 3)    \
  X(1, 128, 1, 1, 64, 1, 1, 32, 3)   \
  X(1, 64, 1, 1, 64, 1, 1, 64, 3)    \
  X(1, 128, 1, 1, 64, 1, 1, 64, 3)   \
  X(1, 64, 1, 1, 64, 1, 1, 128, 3)   \
  X(1, 128, 1, 1, 64, 1, 1, 128, 2)  \
  X(1, 64, 1, 1, 32, 1, 1, 256, 2)

#define NATTEN_FORWARD_CONFIGS_2D(X) \
  X(2, 8, 8, 1, 8, 8, 1, 32, 3)      \
  X(2, 16, 8, 1, 8, 8, 1, 32, 3)     \
  X(2, 8, 8, 1, 8, 8, 1, 64, 3)      \
  X(2, 16, 8, 1, 8, 8, 1, 64, 3)     \
  X(2, 8, 8, 1, 8, 8, 1, 128, 3)     \
  X(2, 16, 8, 1, 8, 8, 1, 128, 2)    \
  X(2, 8, 8, 1, 4, 8, 1, 256, 2)

#define NATTEN_FORWARD_CONFIGS_3D(X) \
  X(3, 4, 4, 4, 4, 4, 4, 32, 3)      \
  X(3, 4, 4, 8, 4, 4, 4, 32, 3)      \
  X(3, 4, 4, 4, 4, 4, 4, 64, 2)      \
  X(3, 4, 4, 8, 4, 4, 4, 64, 3)      \
  X(3, 4, 4, 4, 4, 4, 4, 128, 2)     \
  X(3, 4, 4, 8, 4, 4, 4, 128, 2)     \
  X(3, 4, 4, 4, 2, 4, 4, 256, 2)

/// The sm_90a warpgroup (wgmma) kernels, same X(...) format: 64 queries (one warpgroup), 64-key tiles,
/// tiers 64 and 128, 3 stages. Compiled for every target but launched only on compute capability 9.0.
#define NATTEN_FORWARD_WGMMA_CONFIGS_1D(X) \
  X(1, 64, 1, 1, 64, 1, 1, 64, 3)          \
  X(1, 64, 1, 1, 64, 1, 1, 128, 3)

#define NATTEN_FORWARD_WGMMA_CONFIGS_2D(X) \
  X(2, 8, 8, 1, 8, 8, 1, 64, 3)            \
  X(2, 8, 8, 1, 8, 8, 1, 128, 3)

#define NATTEN_FORWARD_WGMMA_CONFIGS_3D(X) \
  X(3, 4, 4, 4, 4, 4, 4, 64, 3)            \
  X(3, 4, 4, 4, 4, 4, 4, 128, 3)

/// The sm_90a warp-specialised kernels ('wgmma-ws', forward_ws_kernel.cuh), same X(...) format: 128 queries
/// per CTA (two consumer warpgroups of 64: the Q tile halves along axis 0), 64- or 128-key tiles, tiers 64
/// and 128, stages as the 227 KB of shared memory allow (one CTA per SM: 384 threads at 168 registers).
/// Compiled for every target but launched only on compute capability 9.0.
#define NATTEN_FORWARD_WS_CONFIGS_1D(X) \
  X(1, 128, 1, 1, 64, 1, 1, 64, 4)      \
  X(1, 128, 1, 1, 128, 1, 1, 64, 3)     \
  X(1, 128, 1, 1, 64, 1, 1, 128, 3)     \
  X(1, 128, 1, 1, 128, 1, 1, 128, 2)

#define NATTEN_FORWARD_WS_CONFIGS_2D(X) \
  X(2, 16, 8, 1, 8, 8, 1, 64, 4)        \
  X(2, 16, 8, 1, 16, 8, 1, 64, 3)       \
  X(2, 16, 8, 1, 8, 8, 1, 128, 3)       \
  X(2, 16, 8, 1, 16, 8, 1, 128, 2)

/// The 2-D 'wgmma-ws' strip kernels (forward_ws_strip.h): X(dims, qx, qy, qz, keys per KV tile, head_dim_tier,
/// stages); the KV tile is listed as 1 x keys, its rows x columns chosen per launch from the window union.
/// 80 keys: 4 rows of a 2-D k13 union (20 wide), 400 keys per query against 480 with 64 and 512 with 128.
#define NATTEN_FORWARD_WS_STRIP_CONFIGS_2D(X) \
  X(2, 16, 8, 1, 64, 64, 4)                   \
  X(2, 16, 8, 1, 80, 64, 4)                   \
  X(2, 16, 8, 1, 128, 64, 3)                  \
  X(2, 16, 8, 1, 64, 128, 3)                  \
  X(2, 16, 8, 1, 80, 128, 3)                  \
  X(2, 16, 8, 1, 128, 128, 2)

/// 3-D: boxes, and plane configs (Q 2x8x8, each consumer one axis-0 plane of 8x8 queries; KV tiles one plane of
/// 8x8 or 8x16 keys). A plane half's queries share their axis-0 window, so it skips the planes outside it and
/// masks only axes 1 and 2: k(5,9,9) computes 5 x 16 x 16 keys per query.
#define NATTEN_FORWARD_WS_CONFIGS_3D(X) \
  X(3, 8, 4, 4, 4, 4, 4, 64, 4)         \
  X(3, 8, 4, 4, 4, 4, 8, 64, 3)         \
  X(3, 8, 4, 4, 4, 4, 4, 128, 3)        \
  X(3, 8, 4, 4, 4, 4, 8, 128, 2)        \
  X(3, 2, 8, 8, 1, 8, 8, 64, 4)         \
  X(3, 2, 8, 8, 1, 8, 16, 64, 4)        \
  X(3, 2, 8, 8, 1, 8, 8, 128, 3)        \
  X(3, 2, 8, 8, 1, 8, 16, 128, 2)

/// Keys per list row of a window-union panel list (configs whose cap is wider than this along axis 1), and per
/// softmax chunk of a list (a panel list runs whole chunks). The kernel's own constants; forward_union_launch.cuh
/// checks they agree.
constexpr int kUnionPanelKeys = 16;
constexpr int kUnionListChunkKeys = 64;

/// The 2-D window-union kernels (mma.sync, forward_union_kernel.cuh): X(dims, qx, qy, cap0, cap1, head_dim_tier,
/// warps per 16-query micro box). The CTA loads its Q tile's whole window union (at most cap0 x cap1 keys, listed
/// as the KV tile) once and each warp computes its own queries' union only; it runs problems whose every Q tile's
/// union fits (ForwardConfigs::runs_problem): Q 8x8 with 16x16 takes windows up to 9x9 at stride 1, with 20x20
/// up to 13x13 (two warps per micro box: its 110 KB of shared memory hold two CTAs per SM). (Q 16x8 with 24x16
/// ran k3-k9 0-3% slower than Q 8x8 on an H200: not compiled.)
#define NATTEN_FORWARD_UNION_CONFIGS_2D(X) \
  X(2, 8, 8, 16, 16, 32, 1)                \
  X(2, 8, 8, 16, 16, 64, 1)                \
  X(2, 8, 8, 20, 20, 64, 2)

/// The largest head-dim tier of the forward entries.
constexpr int kForwardMaxHeadDimTier = 256;

/// Enqueues one configuration's kernel (checks done by the caller, see forward.h).
using ForwardLaunchFn = void (*)(const NaProblem& p, const FusedForwardArgs& a, cudaStream_t stream);

/// One compiled forward kernel: its config (ConfigEntry: dims, tiles, head-dim tier 32-256, arch 80 or
/// 90, dtype, threads, shared memory) and what launches it.
struct ForwardEntry : ConfigEntry {
  int stages;  // K/V pipeline depth (2 or 3; 'wgmma-ws': ring stages, 2 to 4; window union: 1)
  ForwardLaunchFn launch;
  const void* kernel;  // the __global__ function, for occupancy queries
  /// The window-union kernel (forward_union_kernel.cuh): kv_tile is the largest union it holds.
  bool window_union = false;
};

/// The compiled entries of one dims value, in list order, fp16 then bf16 per line (forward_{1,2,3}d.cu).
const std::vector<ForwardEntry>& forward_entries_1d();
const std::vector<ForwardEntry>& forward_entries_2d();
const std::vector<ForwardEntry>& forward_entries_3d();
/// The 2-D window-union entries (forward_union_2d.cu), listed after the mma.sync and wgmma ones.
const std::vector<ForwardEntry>& forward_union_entries_2d();
/// The 'wgmma-ws' entries of one dims value (forward_ws_{1,2,3}d.cu), listed after the others.
const std::vector<ForwardEntry>& forward_ws_entries_1d();
const std::vector<ForwardEntry>& forward_ws_entries_2d();
const std::vector<ForwardEntry>& forward_ws_entries_3d();

}  // namespace natten::fused
