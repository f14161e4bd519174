// Promise-returning work off the main thread (DESIGN 4: reading data is the sync point, never blocking).
#pragma once
#include <napi.h>

#include <functional>
#include <optional>

#include "js_interop.h"

namespace natten::node {

/// Runs `work` on a libuv worker thread, then resolves the returned promise with `result(env)` on the
/// main thread, or rejects it with the coded error `work` threw.
Napi::Promise run_async(Napi::Env env, std::function<void()> work, std::function<Napi::Value(Napi::Env)> result);

}  // namespace natten::node
