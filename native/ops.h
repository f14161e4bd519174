// Neighborhood-attention op bindings: each op family registers itself here (see ops.cc).
#pragma once
#include <napi.h>

namespace natten::node {

/// Adds every NA op binding (fused, unfused, softmax, merge) to exports.
void register_ops(Napi::Env env, Napi::Object exports);

}  // namespace natten::node
