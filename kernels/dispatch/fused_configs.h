// Registry of the compiled fused-kernel tile configurations (forward; backward entries are appended by
// the backward kernels), as the TS `natten.fusedConfigs()` lists them and `qTileShape`/`kvTileShape`
// select them. Plain C++ (no CUDA types) so native/ can include it; defined in fused_configs.cu (CUDA
// builds only: a CPU-only build has no configs).
#pragma once
#include <string>
#include <vector>
#include "../common/dtype.h"
#include "../common/problem.h"
#include "../runtime/device_caps.h"

namespace natten::launch {

/// One compiled configuration.
struct FusedTileConfig {
  std::string pass;            // "forward" or "backward"
  std::string kernel = "mma";  // "mma" (mma.sync, sm_80+), "wgmma" or "wgmma-ws" (sm_90a, forward only)
  int dims = 1;
  int head_dim_tier = 0;  // 32, 64, 128 or 256: runs head dims <= tier that are multiples of 8
  DType dtype = DType::BFloat16;
  int q_tile[kMaxDims] = {1, 1, 1};
  int kv_tile[kMaxDims] = {1, 1, 1};
  int threads = 0;
  int smem_bytes = 0;
  double cost = -1;  // the family's cost model on the problem asked about (relative run time), -1 without one
};

/// The configs that can run (dims, head_dim/head_dim_v, dtype) on a CUDA device, forward first. Empty when
/// the tensor-core path cannot (fp32 runs on the reference kernel; head dims not multiples of 8 or
/// above 256; GPUs older than sm_80; configs needing more shared memory than the device has). With a
/// problem (of those dims and head dims), each config carries its cost on it: the autotuner's ranking.
std::vector<FusedTileConfig> fused_configs(int device, int dims, int head_dim, int head_dim_v, DType dtype,
                                           const NaProblem* problem = nullptr);

/// The same list for a device described by `caps` (given, nothing queried): what the configs would be on
/// an A100 or an H100 from a machine without one.
std::vector<FusedTileConfig> fused_configs_for(const fused::DeviceCaps& caps, int dims, int head_dim, int head_dim_v,
                                               DType dtype, const NaProblem* problem = nullptr);

}  // namespace natten::launch
