// Problem descriptors shared by the CPU engine, the reference/unfused/fused CUDA kernels and the launch
// layer. Plain structs of plain types so they can be passed by value to kernels.
#pragma once
#include <stdint.h>
#include "window.h"

namespace natten {

constexpr int kMaxDims = 3;

/// A neighborhood-attention problem. Spatial axes beyond `dims` are unused.
///
/// Fused layout (docs/design.md §6): Q [B, X, (Y, (Z)), H, D], K [.., H_kv, D], V [.., H_kv, Dv],
/// O [.., H, Dv], LSE [B, X, (Y, (Z)), H] fp32, extra K [B, n_extra, H_kv, D], extra V [B, n_extra, H_kv, Dv].
/// Unfused layout: Q/K/V [B, H, X, (Y, (Z)), D], attention [B, H, X, .., prod(kernel) + n_extra],
/// extra K/V [B, H, n_extra, D].
struct NaProblem {
  int dims = 1;
  int64_t batch = 1;
  int64_t heads = 1;       // H (query heads)
  int64_t heads_kv = 1;    // H_kv, divides H; query head h reads kv head h * H_kv / H
  int64_t head_dim = 1;    // D of Q and K
  int64_t head_dim_v = 1;  // Dv of V and O
  int length[kMaxDims] = {1, 1, 1};
  int kernel[kMaxDims] = {1, 1, 1};
  int stride[kMaxDims] = {1, 1, 1};
  int dilation[kMaxDims] = {1, 1, 1};
  bool causal[kMaxDims] = {false, false, false};
  int64_t n_extra = 0;     // additional keys/values attended by every query
  float scale = 1.f;       // applied to Q.K (fused ops only; unfused QK is unscaled), rounded for fp32 math
  double scale_f64 = 1.0;  // the same scale as given: the float64 CPU path computes with it
  bool has_rpb = false;    // unfused QK only

  NATTEN_HD AxisParams axis(int a) const { return {length[a], kernel[a], stride[a], dilation[a], causal[a]}; }
  /// Number of query (= key) tokens per (batch, head).
  NATTEN_HD int64_t tokens() const {
    int64_t n = 1;
    for (int a = 0; a < dims; ++a) n *= length[a];
    return n;
  }
  /// Number of window positions per query (product of kernel sizes), excluding extra keys.
  NATTEN_HD int64_t window_size() const {
    int64_t n = 1;
    for (int a = 0; a < dims; ++a) n *= kernel[a];
    return n;
  }
  NATTEN_HD int64_t kv_head(int64_t h) const { return h * heads_kv / heads; }
};

}  // namespace natten
