// Host entry of the tensor-core fused forward: eligibility checks, the config registry (ForwardConfigs:
// the compiled entries and the cost model), config choice (explicit tile shapes or the cheapest entry) and
// launch. The launch layer (kernels/dispatch/fused_dispatch.cu) calls try_forward() first and runs the
// reference kernel when it returns false.
#pragma once
#include <cuda_runtime.h>
#include <string>
#include <vector>
#include "../../common/dtype.h"
#include "../../common/op_args.h"
#include "../../runtime/device_caps.h"
#include "../../runtime/family_configs.h"
#include "forward_entries.h"

namespace natten::fused {

/// The forward's config registry: the compiled entries (forward_entries.h) and the cost heuristic.
class ForwardConfigs final : public FamilyConfigs<ForwardEntry> {
 public:
  /// The compiled entries of one dims value, in list order, fp16 then bf16 per line.
  const std::vector<ForwardEntry>& list(int dims) const override;
  int max_head_dim_tier() const override { return kForwardMaxHeadDimTier; }
  /// sm_90a (wgmma) entries only on compute capability 9.0; none that need more shared memory than it has.
  bool runs_on(const ForwardEntry& e, const DeviceCaps& caps) const override;
  /// A window-union entry runs 2-D problems whose every Q tile's window union fits its capacity; others all.
  bool runs_problem(const ForwardEntry& e, const NaProblem& p) const override;
  /// Tensor-core, softmax and shared-memory work of one representative CTA, times the wave-quantisation and
  /// occupancy losses (forward_cost.cu).
  double cost(const ForwardEntry& e, const NaProblem& p, const DeviceCaps& caps) const override;
};

/// The forward's registry (one instance).
const ForwardConfigs& forward_configs();

/// Why the tensor-core forward cannot run this problem ("" when it can): fp32 inputs (they run on the
/// reference kernel, SIMT fp32), head dims not multiples of 8 or above 256, misaligned pointers, grid
/// limits, an older GPU.
std::string forward_unsupported_reason(const NaProblem& p, DType t, const FusedForwardArgs& a, const DeviceCaps& caps);

/// forward_unsupported_reason without the buffers (every check but pointer alignment): what a problem
/// and a device decide alone, for choosing a config without data (dispatch/fused_choice.h).
std::string forward_problem_unsupported_reason(const NaProblem& p, DType t, const DeviceCaps& caps);

/// CTAs in the grid of entry e on problem p (every batch, head and dilation group).
double forward_ctas(const ForwardEntry& e, const NaProblem& p);

/// Whether e is a 2-D 'wgmma-ws' strip config (forward_ws_strip.h; its KV tile listed as 1 x keys).
inline bool is_ws_strip(const ForwardEntry& e) { return e.arch == kWgmmaWsArch && e.dims == 2 && e.kv_tile[0] == 1; }

/// CTAs of an entry resident per SM on the device (cudaOccupancyMaxActiveBlocksPerMultiprocessor,
/// cached); without a device, an estimate from the shared memory alone.
int resident_ctas(const ForwardEntry& e, const DeviceCaps& caps);

/// The entry to run: the one named by c.q_tile / c.kv_tile / c.forward_arch (zeros = not given; given
/// tiles without a kernel family: the first listed), else the cheapest by ForwardConfigs::cost. Throws
/// Error(Range, ERR_NATTEN_UNSUPPORTED) naming the valid shapes when the request matches no compiled config.
const ForwardEntry& select_forward(const NaProblem& p, DType t, const FusedConfig& c, const DeviceCaps& caps);

/// Runs the tensor-core forward on `stream` when eligible and returns true; returns false (nothing
/// enqueued) when the problem must go to the reference kernel. Throws when tile shapes were requested
/// for a problem the tensor-core path cannot run, or name no compiled config.
bool try_forward(int device, cudaStream_t stream, const NaProblem& p, DType t, const FusedForwardArgs& a,
                 const FusedConfig& c);

}  // namespace natten::fused
