// Reading the problem and fused-config objects of the NA op bindings (options.problem, options.config;
// typed in lib/native.ts) into natten::NaProblem and natten::FusedConfig. lib/ validates a problem once,
// with the messages users see (lib/ops/validate.ts); this re-checks only what keeps the CPU engine and the
// kernels inside their buffers when the addon is called directly: field types, extents and array lengths,
// 1 <= stride <= kernel and kernel * dilation <= length per axis (else a window reads past its axis), heads_kv
// dividing heads, and sizes that fit 64-bit byte counts.
#pragma once
#include <napi.h>

#include "../kernels/common/op_args.h"
#include "../kernels/common/problem.h"
#include "options_arg.h"

namespace natten::node {

/// {dims, batch, heads, headsKv?, headDim, headDimV?, length[], kernel[], stride[]?, dilation[]?, causal[]?,
///  nExtra?, scale?, hasRpb?} -> NaProblem. Throws TypeError/RangeError (coded) naming the field.
NaProblem problem_arg(const Options& o);

/// {qTileShape?, kvTileShape?, backwardQTileShape?, backwardKvTileShape?, kvSplits?, forwardArch?,
///  kvParallel?, deterministic?, useReference?, scratchLimitBytes?} -> FusedConfig (absent fields: defaults;
///  a forwardArch without kernels is ERR_NATTEN_UNSUPPORTED at dispatch).
FusedConfig config_arg(const Options& o, int dims);

/// Element counts of the op buffers of a problem (throw ERR_NATTEN_INVALID_SHAPE on int64 overflow).
struct ProblemSizes {
  int64_t tokens = 0;      // N
  int64_t fused_q = 0;     // B*N*H*D
  int64_t fused_k = 0;     // B*N*Hkv*D
  int64_t fused_v = 0;     // B*N*Hkv*Dv
  int64_t fused_out = 0;   // B*N*H*Dv
  int64_t lse = 0;         // B*N*H
  int64_t fused_ek = 0;    // B*nExtra*Hkv*D
  int64_t fused_ev = 0;    // B*nExtra*Hkv*Dv
  int64_t unfused_q = 0;   // B*H*N*D
  int64_t unfused_v = 0;   // B*H*N*Dv
  int64_t attn = 0;        // B*H*N*(prod(k) + nExtra)
  int64_t unfused_ek = 0;  // B*H*nExtra*D
  int64_t unfused_ev = 0;  // B*H*nExtra*Dv
  int64_t rpb = 0;         // H*prod(2k-1)
};
ProblemSizes problem_sizes(const NaProblem& p);

}  // namespace natten::node
