// fused_choice.h: the forward's and the backward's choices through the functions the ops use
// (kernels/fused/forward/forward.h, fna_backward.h), without buffers.
#include "fused_choice.h"

#include <string>
#include <utility>

#include "../fused/backward/fna_backward.h"
#include "../fused/forward/forward.h"

namespace natten::launch {
namespace {

bool no_queries(const NaProblem& p) { return p.tokens() == 0 || p.batch == 0 || p.heads == 0; }

constexpr const char* kNoQueries = "the problem has no queries: nothing runs";

void copy_tile(int (&dst)[kMaxDims], const int (&src)[kMaxDims]) {
  for (int a = 0; a < kMaxDims; ++a) dst[a] = src[a];
}

/// Settles a pass that runs no config, in try_forward's / try_backward's order: the fast path cannot run
/// the problem (`why`: the reference kernel), or the problem has no queries. False: a config is chosen.
template <class Choice>
bool settled_without_config(Choice& out, std::string why, const NaProblem& p) {
  out.reason = std::move(why);
  if (!out.reason.empty()) {
    out.path = ChoicePath::Reference;
    return true;
  }
  if (no_queries(p)) {
    out.reason = kNoQueries;
    return true;
  }
  return false;
}

/// try_forward's decision (forward.cu), in its order: fast-path checks, empty problems, select_forward.
ForwardChoice forward_choice(const NaProblem& p, DType t, const fused::DeviceCaps& caps) {
  ForwardChoice out;
  if (settled_without_config(out, fused::forward_problem_unsupported_reason(p, t, caps), p)) return out;
  const fused::ForwardEntry& e = fused::select_forward(p, t, FusedConfig{}, caps);
  out.path = ChoicePath::Fused;
  out.kernel = fused::kernel_name(e.arch);
  out.head_dim_tier = e.head_dim_tier;
  out.stages = e.stages;
  copy_tile(out.q_tile, e.q_tile);
  copy_tile(out.kv_tile, e.kv_tile);
  return out;
}

/// try_backward's decision (fna_backward_launch.cu): fast-path checks, then the plan. Empty problems are
/// not planned here: try_backward plans them only to validate given tile shapes, and none are given.
BackwardChoice backward_choice(const NaProblem& p, DType t, const FusedConfig& c, const fused::DeviceCaps& caps) {
  BackwardChoice out;
  if (settled_without_config(out, fused::backward_problem_unsupported_reason(p, t, caps), p)) return out;
  const fused::BackwardPlan plan = fused::plan_backward(p, t, c, caps);
  out.path = ChoicePath::Fused;
  out.kernel = fused::kernel_name(plan.arch);
  out.head_dim_tier = plan.tier;
  copy_tile(out.q_tile, plan.tiles.q);
  copy_tile(out.kv_tile, plan.tiles.kv);
  out.dq_kv_parallel = plan.dq_atomics;
  out.dq_stages = plan.dq_stages;
  out.extra_splits = plan.extra_splits;
  out.q_chunks_per_split = plan.q_chunks_per_split;
  out.workspace_bytes = (int64_t)plan.workspace_bytes();
  return out;
}

}  // namespace

FusedChoices choose_fused_configs(const NaProblem& p, DType t, const fused::DeviceCaps& caps) {
  FusedChoices out;
  out.forward = forward_choice(p, t, caps);
  FusedConfig c;  // the defaults: kv_parallel, not deterministic, no scratch limit
  out.backward = backward_choice(p, t, c, caps);
  c.deterministic = true;
  out.backward_deterministic = backward_choice(p, t, c, caps);
  return out;
}

}  // namespace natten::launch
