// Tensor creation, conversion, transfer and readback bindings (docs/design.md §3-§4).
#pragma once
#include <napi.h>

namespace natten::node {

/// Adds empty/zeros/fromArray/randn/copy/toArray/toArraySync/release/synchronize/memory to exports.
void register_tensor_ops(Napi::Env env, Napi::Object exports);

}  // namespace natten::node
