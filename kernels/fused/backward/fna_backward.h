// Host API of the fused NA backward on sm_80+ tensor cores (fp16/bf16, fp32 accumulation).
//
// The launch layer (kernels/dispatch/fused_dispatch.cu) asks backward_unsupported_reason() whether this
// path runs a problem, plans it (tile shapes, dQ strategy, scratch), allocates the plan's workspace
// stream-ordered and calls run_backward(). Passes, all on one stream:
//   1. Delta = rowsum(dO o O) (fp32, into the workspace);
//   2. KV-parallel main kernel: dK, dV (and dQ by fp32 atomics when plan.dq_atomics);
//   3. extra keys/values (n_extra > 0): the same kernel over the extra tokens, per-split fp32 partials,
//      then a fixed-order reduction into dAdditionalKeys/Values;
//   4. dQ: the fp32 accumulator converted to the output dtype, or (plan.dq_atomics false) the
//      Q-parallel dQ kernel, which is bitwise reproducible.
//
// dQ strategy (FusedConfig):
//   deterministic            -> Q-parallel dQ kernel; nothing in the backward depends on scheduling order.
//   kv_parallel (default)    -> fp32 atomics into a [B, N, H, D] accumulator (4 bytes per dQ element of
//                               scratch; addition order, hence the last bits, vary run to run).
//   kv_parallel = false      -> Q-parallel dQ kernel (no dQ scratch).
//   scratch_limit_bytes >= 0 -> if the accumulator would exceed it, the Q-parallel dQ kernel.
// Delta (4 bytes per query row and head, like the LSE) and the extra-KV partials (only with additional
// keys) are always allocated and are not counted against the limit.
#pragma once
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>
#include <string>
#include <vector>
#include "../../common/dtype.h"
#include "../../common/op_args.h"
#include "../../runtime/device_caps.h"
#include "../../runtime/family_configs.h"
#include "fna_backward_configs.h"

namespace natten::fused {

struct BackwardPlan {
  BackwardTileConfig tiles{};
  int arch = 80;            // main kernel family: 80 mma.sync, 90 wgmma (kBwdWgmmaArch)
  int tier = 0;             // padded head dim the kernels run at (32, 64, 128)
  bool dq_atomics = false;  // KV-parallel dQ (fp32 accumulator + atomics); else the Q-parallel dQ kernel
  int dq_stages = 2;        // KV buffers of the Q-parallel dQ kernel
  int extra_splits = 1;     // CTAs per extra-KV tile, each summing a slice of the queries
  int64_t q_chunks_per_split = 0;
  size_t delta_bytes = 0;
  size_t dq_acc_bytes = 0;
  size_t extra_part_bytes = 0;  // dK and dV partials together
  size_t workspace_bytes() const { return delta_bytes + dq_acc_bytes + extra_part_bytes; }
};

/// Queries per Q tile (or extra-pass chunk) and keys per KV tile of a plan's main kernel.
inline int backward_main_q_rows(const BackwardPlan& plan) {
  return plan.arch == kBwdWgmmaArch ? 64 : backward_q_rows(plan.tier);
}
inline int backward_main_kv_rows(const BackwardPlan& plan) { return plan.arch == kBwdWgmmaArch ? 128 : kBwdKvRows; }

/// The backward's config registry: every tile configuration (fna_backward_configs.h) per head-dim tier
/// and dtype, and the tile-pair cost model.
class BackwardConfigs final : public FamilyConfigs<BackwardEntry> {
 public:
  /// The entries of one dims value: per tier (32, 64, 128) and dtype (fp16, bf16), backward_tile_configs.
  const std::vector<BackwardEntry>& list(int dims) const override;
  int max_head_dim_tier() const override { return kBackwardMaxHeadDimTier; }
  /// sm_80 or newer, with the shared memory of the main and the dQ kernel for the entry's tier.
  bool runs_on(const BackwardEntry& e, const DeviceCaps& caps) const override;
  /// Tile pairs the main kernel visits, weighted by the Q rows per pair (the device does not matter).
  double cost(const BackwardEntry& e, const NaProblem& p, const DeviceCaps& caps) const override;
};

/// The backward's registry (one instance).
const BackwardConfigs& backward_configs();

/// "" when the fast backward runs this problem on this device, else the reason it does not (the caller
/// falls back to the reference kernel).
std::string backward_unsupported_reason(const NaProblem& p, DType t, const FusedBackwardArgs& a,
                                        const DeviceCaps& caps);

/// backward_unsupported_reason without the buffers (every check but the pointers): what a problem and a
/// device decide alone, for choosing a config without data (dispatch/fused_choice.h).
std::string backward_problem_unsupported_reason(const NaProblem& p, DType t, const DeviceCaps& caps);

/// The entry to run, among the family c.backward_arch names (0: mma.sync; the wgmma family runs only where a
/// call forces it until its GPU sweep has passed, bench/NOTES.md): the one named by c.backward_q_tile /
/// c.backward_kv_tile (zeros = not given; when one of the two is given, the other is the cheapest entry's if
/// that pair exists, else the first listed that pairs), else the cheapest by BackwardConfigs::cost. Throws
/// RangeError ERR_NATTEN_UNSUPPORTED naming the option and what exists when the request matches no entry
/// (a forced family with no entry here: another device, dtype or head-dim tier).
const BackwardEntry& select_backward(const NaProblem& p, DType t, const FusedConfig& c, const DeviceCaps& caps);

/// Tile shapes (select_backward), dQ strategy and workspace size. Throws what select_backward throws.
BackwardPlan plan_backward(const NaProblem& p, DType t, const FusedConfig& c, const DeviceCaps& caps);

/// Enqueues the backward on `stream`. `workspace` holds plan.workspace_bytes() bytes, 256-byte aligned,
/// and must stay allocated until the work is done (stream-ordered free is fine). The problem must have
/// at least one token, batch and head.
void run_backward(const NaProblem& p, DType t, const FusedBackwardArgs& a, const BackwardPlan& plan, void* workspace,
                  cudaStream_t stream);

/// The launch layer's entry (fna_backward_launch.cu): runs the fast backward on `stream` of `device` when
/// it supports the problem and returns true (workspace allocated and freed stream-ordered); returns false
/// (nothing enqueued) when the reference kernel must run it, or when c.use_reference is set. Throws a
/// RangeError (ERR_NATTEN_UNSUPPORTED) when backward tile shapes are given but do not exist or the
/// problem cannot use the fast path.
bool try_backward(int device, cudaStream_t stream, const NaProblem& p, DType t, const FusedBackwardArgs& a,
                  const FusedConfig& c);

}  // namespace natten::fused
