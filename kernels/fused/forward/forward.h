// Host entry of the tensor-core fused forward: eligibility checks, config choice (explicit tile shapes
// or the cost heuristic) and launch. The launch layer (kernels/dispatch/fused_dispatch.cu) calls
// try_forward() first and runs the reference kernel when it returns false.
#pragma once
#include <cuda_runtime.h>
#include <string>
#include <vector>
#include "../../common/dtype.h"
#include "../../common/op_args.h"
#include "../../runtime/device_caps.h"
#include "forward_entries.h"

namespace natten::fused {

/// True when the device can run the tensor-core kernels (sm_80 or newer).
bool device_supported(const DeviceCaps& caps);

/// Why the tensor-core forward cannot run this problem ("" when it can): fp32 inputs (they run on the
/// reference kernel, SIMT fp32), head dims not multiples of 8 or above 256, misaligned pointers, grid
/// limits, an older GPU.
std::string forward_unsupported_reason(const NaProblem& p, DType t, const FusedForwardArgs& a, const DeviceCaps& caps);

/// forward_unsupported_reason without the buffers (every check but pointer alignment): what a problem
/// and a device decide alone, for choosing a config without data (launch/fused_choice.h).
std::string forward_problem_unsupported_reason(const NaProblem& p, DType t, const DeviceCaps& caps);

/// Compiled forward entries for (dims, tier of max(D, Dv), dtype) that run on the device, in list order:
/// wgmma (arch 90) entries only on compute capability 9.0, none that need more shared memory than it has.
std::vector<const ForwardEntry*> forward_candidates(int dims, int head_dim_tier, DType t, const DeviceCaps& caps);

/// True when a device can run an entry's kernel (sm_90a code runs on compute capability 9.0 only).
bool entry_runs_on(const ForwardEntry& e, const DeviceCaps& caps);

/// CTAs of an entry resident per SM on the device (cudaOccupancyMaxActiveBlocksPerMultiprocessor,
/// cached); without a device, an estimate from the shared memory alone.
int resident_ctas(const ForwardEntry& e, const DeviceCaps& caps);

/// Estimated relative run time of an entry on a problem (lower is better); see forward.cu.
double forward_cost(const ForwardEntry& e, const NaProblem& p, const DeviceCaps& caps);

/// The entry to run: the one named by c.q_tile / c.kv_tile (zeros = not given), else the cheapest by
/// forward_cost. Throws Error(Range, ERR_NATTEN_UNSUPPORTED) naming the valid shapes when the requested
/// tiles match no compiled config.
const ForwardEntry& select_forward(const NaProblem& p, DType t, const FusedConfig& c, const DeviceCaps& caps);

/// Runs the tensor-core forward on `stream` when eligible and returns true; returns false (nothing
/// enqueued) when the problem must go to the reference kernel. Throws when tile shapes were requested
/// for a problem the tensor-core path cannot run, or name no compiled config.
bool try_forward(int device, cudaStream_t stream, const NaProblem& p, DType t, const FusedForwardArgs& a,
                 const FusedConfig& c);

/// Public name of a forward kernel family: "mma" (arch 80, mma.sync) or "wgmma" (arch 90).
const char* kernel_name(int arch);

/// "[8, 8]" style text of the first `dims` extents.
std::string shape_text(const int* ext, int dims);

}  // namespace natten::fused
