// TMA loads of the wgmma backward's Q and dO tiles: per step one producer thread issues one bulk tensor copy
// per 64-column block of each (kernels/runtime/tma_map.h maps, box = the Q tile), instead of 128 threads
// copying rows with cp.async. Used in the window pass when every axis has dilation 1 (a dilation group is a
// strided sub-grid TMA cannot describe) and the batch fold of 3-D maps cannot bring another batch's rows into
// a Q tile (axis 0 a multiple of the Q tile's extent); otherwise, and in the extra-KV pass, the producer
// copies rows.
//
// On by default (the backward_tma switch of kernels/runtime/kernel_switches.h; NATTEN_BWD_WGMMA_TMA=0 or
// natten.internal.kernelSwitches turns it off): 3.6% (1-D) and 5.2% (k31) faster than the row copies on an
// H200, bitwise equal to them (test/cuda_fused_backward_wgmma_switches.test.ts), sanitizers clean
// (bench/NOTES.md, wgmma backward).
//
// The map's rank follows the problem's spatial axes that matter: trailing axes of length 1 and tile extent 1
// (the backward's padding of every problem to 3-D) are left out, so a 1-D problem is a rank-4 map
// (D, H, X, B) and a 2-D one rank 5.
#pragma once
#include <cuda.h>
#include <stdint.h>

#include "../../runtime/kernel_switches.h"
#include "../../runtime/sm90_ws.h"
#include "../../runtime/tma_map.h"
#include "fna_backward_params.h"

namespace natten::fused {

/// The Q and dO tensor maps of one launch (a __grid_constant__ kernel argument: maps must stay in the
/// parameter space).
struct BwdWgMaps {
  CUtensorMap q, dout;
  int dims;     // spatial axes of the maps (1..3)
  int use_tma;  // 1: the producer loads Q / dO with TMA
};

/// Spatial axes the maps need: trailing axes of length 1 and Q-tile extent 1 are left out.
inline int bwd_wg_map_dims(const BackwardParams& prm) {
  int d = kMaxDims;
  while (d > 1 && prm.p.length[d - 1] == 1 && prm.q_tile[d - 1] == 1) --d;
  return d;
}

/// Fills the maps of a launch (extra: the extra-KV pass) and sets use_tma; 0 when TMA cannot describe the
/// loads (see the header) or the driver has no encoder.
inline BwdWgMaps bwd_wg_prepare_maps(const BackwardParams& prm, DType t, bool extra) {
  BwdWgMaps m{};
  const NaProblem& p = prm.p;
  m.dims = bwd_wg_map_dims(prm);
  if (extra || !gpu::kernel_switches().backward_tma || !gpu::tma_available()) return m;
  for (int a = 0; a < kMaxDims; ++a)
    if (p.dilation[a] != 1) return m;
  if (gpu::tma_map_folds_batch(m.dims) && p.batch > 1 && p.length[0] % prm.q_tile[0] != 0) return m;
  const int64_t ext[kMaxDims] = {p.length[0], p.length[1], p.length[2]};
  const bool ok = gpu::encode_tma_map(m.q, t, prm.q, p.head_dim, p.heads, m.dims, ext, p.batch, prm.q_tile) &&
                  gpu::encode_tma_map(m.dout, t, prm.d_out, p.head_dim_v, p.heads, m.dims, ext, p.batch, prm.q_tile);
  m.use_tma = ok ? 1 : 0;
  if (ok) gpu::count_backward_tma_launch();
  return m;
}

/// One TMA box of a map (column block from element `col`, head h, Q tile origin o, batch b) into shared
/// memory at dst, completing on bar. Coordinates as the map's dimensions, innermost first.
__device__ __forceinline__ void bwd_wg_tma_box(const BwdWgMaps& m, const CUtensorMap* map, uint32_t dst, uint32_t bar,
                                               int col, int h, const int (&o)[kMaxDims], int b, int length0) {
  if (m.dims == 1) tma_load_4d(dst, map, bar, col, h, o[0], b);
  else if (m.dims == 2) tma_load_5d(dst, map, bar, col, h, o[1], o[0], b);
  else tma_load_5d(dst, map, bar, col, h, o[2], o[1], b * length0 + o[0]);
}

}  // namespace natten::fused
