// Kernel parameters of the 'wgmma-ws' forward and the host side of its TMA tensor maps.
//
// Tensor maps (kernels/runtime/tma_map.h; one per tensor: Q, K, V, extra K, extra V, O), innermost dimension
// first, 128-byte swizzle (the wgmma layout, tile_shape.h GmmaSwizzle), out-of-bounds elements
// zero-filled, box = one 64-element column block of one head for a whole spatial tile, so a
// multi-dimensional tile is one bulk copy per column block:
//   1-D  (D, H, X, B)          box (64, 1, x, 1)
//   2-D  (D, H, Y, X, B)       box (64, 1, y, x, 1)
//   3-D  (D, H, Z, Y, X * B)   box (64, 1, z, y, x)   (TMA's rank limit is 5: batch folds into X; keys a box
//                                                     reads past a batch's X edge belong to no window and
//                                                     are masked, past the last batch they are zeros)
//   extra (D, H, n_extra, B)   box (64, 1, |KV|, 1)
// D is the tensor's head dim (Q/K: D, V/O: Dv): column blocks past it are zero-filled, as the tier allows.
// O is stored through its map (box = one Q half, like Q's) from the consumers' staged tile, where a box
// cannot cross a batch's edge: 1-D, 2-D, and 3-D when the Q half is one plane or L0 a multiple of its depth
// (the folded X * B axis clips only at the last batch; tma_store_o = 0 otherwise: token-by-token stores).
// Dilation is not expressible this way (a dilation group is a strided sub-grid with its own ragged edge):
// problems with dilation > 1 on any axis load through the cp.async fallback of the same kernel.
#pragma once
#include <cuda.h>  // CUtensorMap and the encoder's types only: libcuda is reached at run time, never linked
#include <cuda_runtime.h>

#include "../../common/dtype.h"
#include "../../common/hostdevice.h"
#include "../../common/op_args.h"
#include "../../common/problem.h"

namespace natten::fused {

/// Coordinates (innermost first) of the box at group-local origin c of column block `col` and head `head` in a
/// map of the layout above: 4 for 1-D (x[4] unused), 5 for 2-D and 3-D (3-D folds batch b into axis 0's X, of
/// length0 per batch). Loads (WsProducer::box) and the O store (WsConsumer::store_o_tma) use the same.
template <int Dims>
NATTEN_HD void ws_box_coords(int col, int head, const int (&c)[3], uint32_t b, int length0, int (&x)[5]) {
  x[0] = col;
  x[1] = head;
  if constexpr (Dims == 1) x[2] = c[0], x[3] = int(b), x[4] = 0;
  else if constexpr (Dims == 2) x[2] = c[1], x[3] = c[0], x[4] = int(b);
  else x[2] = c[2], x[3] = c[1], x[4] = int(b) * length0 + c[0];
}

/// Kernel parameters (a __grid_constant__ argument: the tensor maps must stay in the parameter space).
struct WsParams {
  CUtensorMap tm_q, tm_k, tm_v, tm_ek, tm_ev;  // valid when use_tma (tm_ek/tm_ev also need n_extra > 0)
  CUtensorMap tm_o;                            // valid when tma_store_o
  NaProblem p;
  FusedForwardArgs a;
  float scale_log2;  // |scale| * log2(e), at least 1e-30
  int negate_q;      // scale < 0: each consumer negates its Q half in shared memory once
  int use_tma;       // 1: TMA loads by one producer thread; 0: cp.async by the whole producer warpgroup
  int tma_store_o;   // 1: each consumer warpgroup's O leaves by one TMA store (use_tma and no box crosses a batch)
  int strip[2];      // strip configs: rows and columns of a KV tile (forward_ws_strip.h); unused otherwise
  int64_t n_slots;   // Q tile slots per (batch, head): grid_slots of the Q tile
  int64_t n_items;   // work items: n_slots x heads x batch, walked by gridDim.x CTAs (persistent when fewer)
};

/// The tile boxes a kernel loads: one Q half and one KV tile, extents per axis (1 past dims).
struct WsBoxes {
  int q_half[kMaxDims];
  int kv[kMaxDims];
  int kv_rows;  // |KV tile|, the extra tiles' box
};

/// Fills prm.tm_* for problem prm.p and buffers prm.a and sets prm.use_tma; use_tma = 0 (cp.async) when
/// TMA cannot describe the problem (dilation > 1, extents past its limits) or the driver has no encoder.
void ws_prepare_tma(WsParams& prm, DType t, const WsBoxes& boxes);

}  // namespace natten::fused
