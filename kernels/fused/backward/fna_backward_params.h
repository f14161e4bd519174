// Kernel-side parameters of the fused NA backward (sm_80+ tensor cores), shared by the KV-parallel main
// kernel, the Q-parallel dQ kernel and the small helper kernels, and filled in by fna_backward.cu.
//
// Every problem is seen as 3-D: axes past p.dims get length 1, kernel 1, stride 1, dilation 1 and tile
// extent 1, which local_window() handles exactly (a window of one key), so no kernel branches on dims.
#pragma once
#include <stdint.h>
#include "../../common/problem.h"

namespace natten::fused {

/// Keys per KV tile of the backward kernels (4 warps x 16 key rows).
constexpr int kBwdKvRows = 64;
/// Threads per CTA of the backward main and dQ kernels.
constexpr int kBwdThreads = 128;

struct BackwardParams {
  NaProblem p;            // padded to 3 axes (see above); p.dims == 3
  int q_tile[kMaxDims];   // main kernel Q tile (product 64 for head-dim tiers <= 64, 32 for 128)
  int kv_tile[kMaxDims];  // KV tile of both kernels and Q tile of the dQ kernel (product 64)

  const void* q;        // [B, N, H, D]
  const void* k;        // [B, N, Hkv, D]
  const void* v;        // [B, N, Hkv, Dv]
  const void* d_out;    // [B, N, H, Dv]
  const void* extra_k;  // [B, E, Hkv, D] or null
  const void* extra_v;  // [B, E, Hkv, Dv] or null
  const float* lse;     // [B, N, H] natural log, from the forward
  const float* delta;   // [B, N, H] rowsum(dO * O), from the delta kernel

  void* dq;              // [B, N, H, D] (written by the dQ kernel or the convert pass)
  void* dk;              // [B, N, Hkv, D]
  void* dv;              // [B, N, Hkv, Dv]
  float* dq_acc;         // fp32 [B, N, H, D] accumulated by atomics (KV-parallel), or null
  float* dk_extra_part;  // fp32 [extra_splits][B, E, Hkv, D] partial sums of the extra-KV pass
  float* dv_extra_part;  // fp32 [extra_splits][B, E, Hkv, Dv]
  void* dk_extra_out;    // [B, E, Hkv, D] dAdditionalKeys (written by the split reduction)
  void* dv_extra_out;    // [B, E, Hkv, Dv] dAdditionalValues

  int extra_splits;        // the extra-KV pass splits the query chunks into this many CTAs per tile
  int q_chunks_per_split;  // chunks of BQ flattened query tokens per split
  int dq_stages;           // KV buffers of the dQ kernel: 2 (prefetch) or 1 (small shared memory)
  float scale;             // softmax scale
  float scale_log2;        // scale * log2(e): scores go straight into exp2
};

}  // namespace natten::fused
