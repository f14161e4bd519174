// What the fused kernels choose for a problem on a device described by capabilities: the forward config
// (select_forward's cost model) and the backward plan (plan_backward), as try_forward / try_backward
// would, minus the buffer checks. With caps.device = -1 nothing is queried and no CUDA call is made, so a
// machine without a GPU (CI) can pin the selection for an H100 or an A100 (test/config_choices.test.ts).
// Plain C++ (no CUDA types) so native/ can include it; defined in fused_choice.cu (CUDA builds) and
// fused_choice_stub.cc (CPU-only builds: ERR_NATTEN_NO_CUDA).
#pragma once
#include <stdint.h>
#include <string>
#include "../common/dtype.h"
#include "../common/op_args.h"
#include "../runtime/device_caps.h"

namespace natten::launch {

/// Which kernel runs a pass.
enum class ChoicePath {
  Fused,      // a tensor-core config
  Reference,  // the reference kernel (the fast path cannot run the problem: `reason` says why)
  None,       // no kernel: the problem has no queries
};

/// The forward's choice (select_forward).
struct ForwardChoice {
  ChoicePath path = ChoicePath::None;
  std::string reason;  // path Reference / None: why
  std::string kernel;  // path Fused: "mma", "wgmma" or "wgmma-ws"
  int head_dim_tier = 0;
  int stages = 0;  // K/V pipeline depth of the chosen kernel
  int q_tile[kMaxDims] = {1, 1, 1};
  int kv_tile[kMaxDims] = {1, 1, 1};
};

/// The backward's choice (plan_backward).
struct BackwardChoice {
  ChoicePath path = ChoicePath::None;
  std::string reason;
  std::string kernel;  // path Fused: the main pass's family, "mma" or "wgmma"
  int head_dim_tier = 0;
  int q_tile[kMaxDims] = {1, 1, 1};
  int kv_tile[kMaxDims] = {1, 1, 1};
  bool dq_kv_parallel = false;  // dQ by fp32 atomics in the KV-parallel kernel; else the Q-parallel dQ kernel
  int dq_stages = 0;            // KV buffers of the Q-parallel dQ kernel
  int extra_splits = 0;         // CTAs per additional-KV tile
  int64_t q_chunks_per_split = 0;
  int64_t workspace_bytes = 0;
};

/// The choices under the default FusedConfig (no tile shapes, kvParallel, not deterministic), plus the
/// backward with `deterministic` set.
struct FusedChoices {
  ForwardChoice forward;
  BackwardChoice backward;
  BackwardChoice backward_deterministic;
};

/// The choices for (p, t) on the device `caps` describes. caps.device = -1 (given capabilities): the
/// occupancy is estimated from the shared memory (fused::resident_ctas) and nothing touches CUDA; a real
/// ordinal would ask the occupancy calculator, as the ops do. Throws what select_forward / plan_backward
/// throw.
FusedChoices choose_fused_configs(const NaProblem& p, DType t, const fused::DeviceCaps& caps);

}  // namespace natten::launch
