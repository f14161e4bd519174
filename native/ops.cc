#include "ops.h"

namespace natten::node {

void register_ops(Napi::Env env, Napi::Object exports) {
  // Op families add one line each here as they land.
  void register_na_ops(Napi::Env, Napi::Object);
  register_na_ops(env, exports);  // na_ops_binding.cc
  void register_cuda_timing(Napi::Env, Napi::Object);
  register_cuda_timing(env, exports);  // cuda_timing.cc
  void register_fused_configs(Napi::Env, Napi::Object);
  register_fused_configs(env, exports);  // fused_configs_binding.cc
  void register_fused_choice(Napi::Env, Napi::Object);
  register_fused_choice(env, exports);  // fused_choice_binding.cc
}

}  // namespace natten::node
