// Host side of the 'wgmma-ws' TMA tensor maps (forward_ws_params.h): the maps of one launch, encoded by the
// runtime's shared encoder (kernels/runtime/tma_map.h).
#include "forward_ws_params.h"

#include <cstring>

#include "../../runtime/tma_map.h"

namespace natten::fused {

void ws_prepare_tma(WsParams& prm, DType t, const WsBoxes& boxes) {
  std::memset(&prm.tm_q, 0, sizeof(CUtensorMap) * 6);
  prm.use_tma = 0;
  prm.tma_store_o = 0;
  const NaProblem& p = prm.p;
  for (int a = 0; a < p.dims; ++a)
    if (p.dilation[a] != 1) return;
  if (!gpu::tma_available()) return;
  const int64_t ext[3] = {p.length[0], p.length[1], p.length[2]};
  bool ok = gpu::encode_tma_map(prm.tm_q, t, prm.a.q, p.head_dim, p.heads, p.dims, ext, p.batch, boxes.q_half) &&
            gpu::encode_tma_map(prm.tm_k, t, prm.a.k, p.head_dim, p.heads_kv, p.dims, ext, p.batch, boxes.kv) &&
            gpu::encode_tma_map(prm.tm_v, t, prm.a.v, p.head_dim_v, p.heads_kv, p.dims, ext, p.batch, boxes.kv);
  if (ok && p.n_extra > 0) {
    const int64_t n[1] = {p.n_extra};
    const int rows[1] = {boxes.kv_rows};
    ok = gpu::encode_tma_map(prm.tm_ek, t, prm.a.extra_k, p.head_dim, p.heads_kv, 1, n, p.batch, rows) &&
         gpu::encode_tma_map(prm.tm_ev, t, prm.a.extra_v, p.head_dim_v, p.heads_kv, 1, n, p.batch, rows);
  }
  prm.use_tma = ok ? 1 : 0;
  // O through a map only where no Q half box crosses a batch's edge (3-D folds batch into axis 0's X).
  const bool whole_boxes = p.dims < 3 || boxes.q_half[0] == 1 || p.length[0] % boxes.q_half[0] == 0;
  if (ok && whole_boxes)
    prm.tma_store_o =
        gpu::encode_tma_map(prm.tm_o, t, prm.a.out, p.head_dim_v, p.heads, p.dims, ext, p.batch, boxes.q_half) ? 1 : 0;
}

}  // namespace natten::fused
