// chooseFusedConfigs(problem, dtype, caps) -> {forward, backward, backwardDeterministic}: the fused
// configs the forward's cost model and the backward planner choose for a problem on a device described
// by `caps` ({major, minor, multiProcessorCount, sharedMemoryPerBlockOptin}: the fields of deviceInfo()),
// with the default fused config (kernels/dispatch/fused_choice.h). Nothing is queried: the capabilities are
// given, so a machine without a GPU can pin the choice for an H100 or an A100. CPU-only builds throw
// ERR_NATTEN_NO_CUDA (fused_choice_stub.cc).
#include <napi.h>

#include <cmath>
#include <string>

#include "../kernels/dispatch/fused_choice.h"
#include "js_interop.h"
#include "problem_arg.h"

namespace natten::node {
namespace {

/// caps[key] as an integer in [min, max].
int caps_field(const Napi::Object& caps, const char* key, int min, int max) {
  const Napi::Value v = caps.Get(key);
  const std::string name = std::string("caps.") + key;
  if (!v.IsNumber()) throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", name + " must be an integer");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < min || d > max)
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE",
                name + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return (int)d;
}

/// The given capabilities as a hypothetical device (ordinal -1: nothing is queried).
fused::DeviceCaps caps_arg(const Napi::Value& v) {
  if (!v.IsObject()) throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", "caps must be an object");
  const Napi::Object o = v.As<Napi::Object>();
  fused::DeviceCaps caps;
  caps.device = -1;
  caps.cc_major = caps_field(o, "major", 0, 99);
  caps.cc_minor = caps_field(o, "minor", 0, 9);
  caps.sm_count = caps_field(o, "multiProcessorCount", 1, 1 << 16);
  caps.smem_optin = caps_field(o, "sharedMemoryPerBlockOptin", 1, 1 << 30);
  return caps;
}

Napi::Array shape_array(Napi::Env env, const int* ext, int dims) {
  Napi::Array a = Napi::Array::New(env, dims);
  for (int i = 0; i < dims; ++i) a.Set(uint32_t(i), Napi::Number::New(env, ext[i]));
  return a;
}

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

Napi::Object forward_object(Napi::Env env, const launch::ForwardChoice& c, int dims) {
  if (c.path != launch::ChoicePath::Fused) return not_fused(env, c.path, c.reason);
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", path_name(c.path));
  o.Set("kernel", c.kernel);
  o.Set("headDimTier", c.head_dim_tier);
  o.Set("stages", c.stages);
  o.Set("qTileShape", shape_array(env, c.q_tile, dims));
  o.Set("kvTileShape", shape_array(env, c.kv_tile, dims));
  return o;
}

Napi::Object backward_object(Napi::Env env, const launch::BackwardChoice& c, int dims) {
  if (c.path != launch::ChoicePath::Fused) return not_fused(env, c.path, c.reason);
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", path_name(c.path));
  o.Set("headDimTier", c.head_dim_tier);
  o.Set("qTileShape", shape_array(env, c.q_tile, dims));
  o.Set("kvTileShape", shape_array(env, c.kv_tile, dims));
  o.Set("dq", c.dq_kv_parallel ? "kv-parallel" : "q-parallel");
  o.Set("dqStages", c.dq_stages);
  o.Set("extraSplits", c.extra_splits);
  o.Set("qChunksPerSplit", Napi::Number::New(env, (double)c.q_chunks_per_split));
  o.Set("workspaceBytes", Napi::Number::New(env, (double)c.workspace_bytes));
  return o;
}

Napi::Value ChooseFusedConfigs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const NaProblem p = problem_arg(info[0]);
  const DType t = dtype_arg(info[1], "dtype");
  const fused::DeviceCaps caps = caps_arg(info[2]);
  const launch::FusedChoices c = launch::choose_fused_configs(p, t, caps);
  Napi::Object out = Napi::Object::New(env);
  out.Set("forward", forward_object(env, c.forward, p.dims));
  out.Set("backward", backward_object(env, c.backward, p.dims));
  out.Set("backwardDeterministic", backward_object(env, c.backward_deterministic, p.dims));
  return out;
}

}  // namespace

void register_fused_choice(Napi::Env env, Napi::Object exports) {
  exports.Set("chooseFusedConfigs", Napi::Function::New<guarded<ChooseFusedConfigs>>(env, "chooseFusedConfigs"));
}

}  // namespace natten::node
