// One 'wgmma-ws' forward kernel instantiated alone, for a quick cubin of it (ws_cubin.sh): the configuration is
// given by the macros WS_Q (e.g. 3,2,8,8), WS_KV (3,1,8,16), WS_TIER (64) and WS_STAGES (3), which ws_cubin.sh
// defines (bf16).
#include "kernels/fused/forward/forward_ws_kernel.cuh"

template __global__ void
natten::fused::na_forward_ws_kernel<natten::fused::TileShape<WS_Q>, natten::fused::RasterBox<WS_KV>, WS_TIER, WS_STAGES,
                                    natten::fused::BF16>(const __grid_constant__ natten::fused::WsParams);
