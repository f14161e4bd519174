// chooseFusedConfigs({problem, dtype, caps}) -> {forward, backward, backwardDeterministic}: the fused
// configs the forward's cost model and the backward planner choose for a problem on a device described
// by `caps` ({major, minor, multiProcessorCount, sharedMemoryPerBlockOptin}: the fields of deviceInfo()),
// with the default fused config (kernels/dispatch/fused_choice.h). Nothing is queried: the capabilities are
// given, so a machine without a GPU can pin the choice for an H100 or an A100. CPU-only builds throw
// ERR_NATTEN_NO_CUDA (fused_choice_stub.cc).
#include <napi.h>

#include <cmath>
#include <string>

#include "../kernels/dispatch/fused_choice.h"
#include "caps_arg.h"
#include "js_interop.h"
#include "options_arg.h"
#include "problem_arg.h"

namespace natten::node {
namespace {

const char* path_name(launch::ChoicePath path) {
  switch (path) {
    case launch::ChoicePath::Fused: return "fused";
    case launch::ChoicePath::Reference: return "reference";
    default: return "none";
  }
}

/// {path: 'reference' | 'none', reason} for a pass that runs no tensor-core config.
Napi::Object not_fused(Napi::Env env, launch::ChoicePath path, const std::string& reason) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", path_name(path));
  o.Set("reason", reason);
  return o;
}

/// The fields of every fused choice: {path: 'fused', kernel, headDimTier, qTileShape, kvTileShape}.
template <class Choice>
Napi::Object fused_object(Napi::Env env, const Choice& c, int dims) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", path_name(c.path));
  o.Set("kernel", c.kernel);
  o.Set("headDimTier", c.head_dim_tier);
  o.Set("qTileShape", int_array(env, c.q_tile, dims));
  o.Set("kvTileShape", int_array(env, c.kv_tile, dims));
  return o;
}

Napi::Object forward_object(Napi::Env env, const launch::ForwardChoice& c, int dims) {
  if (c.path != launch::ChoicePath::Fused) return not_fused(env, c.path, c.reason);
  Napi::Object o = fused_object(env, c, dims);
  o.Set("stages", c.stages);
  return o;
}

Napi::Object backward_object(Napi::Env env, const launch::BackwardChoice& c, int dims) {
  if (c.path != launch::ChoicePath::Fused) return not_fused(env, c.path, c.reason);
  Napi::Object o = fused_object(env, c, dims);
  o.Set("dq", c.dq_kv_parallel ? "kv-parallel" : "q-parallel");
  o.Set("dqStages", c.dq_stages);
  o.Set("extraSplits", c.extra_splits);
  o.Set("qChunksPerSplit", Napi::Number::New(env, (double)c.q_chunks_per_split));
  o.Set("workspaceBytes", Napi::Number::New(env, (double)c.workspace_bytes));
  return o;
}

Napi::Value ChooseFusedConfigs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Options o(info);
  const NaProblem p = problem_arg(o.object("problem"));
  const DType t = o.dtype();
  const fused::DeviceCaps caps = caps_arg(o.object("caps"));
  const launch::FusedChoices c = launch::choose_fused_configs(p, t, caps);
  Napi::Object out = Napi::Object::New(env);
  out.Set("forward", forward_object(env, c.forward, p.dims));
  out.Set("backward", backward_object(env, c.backward, p.dims));
  out.Set("backwardDeterministic", backward_object(env, c.backward_deterministic, p.dims));
  return out;
}
NATTEN_BINDING("chooseFusedConfigs", ChooseFusedConfigs);

}  // namespace
}  // namespace natten::node
