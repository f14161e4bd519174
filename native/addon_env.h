// What the addon keeps per JS environment (the main thread and each worker thread that loads it), as
// Node-API instance data, and the once-per-process set-up. Nothing of one environment is reachable
// from another: a worker's exit or terminate tears down only its own state.
#pragma once
#include <napi.h>

#include <memory>

#include "completion.h"

namespace natten::node {

struct AddonEnv {
  Napi::FunctionReference natten_error;  // this environment's NattenError class (lib/errors.ts)
  std::shared_ptr<Completion> completion;
};

/// Creates the environment's state (module init) and, once per process, keeps the addon's code mapped
/// for the life of the process: device threads may be running it when the last environment that
/// loaded it goes away.
void init_addon_env(Napi::Env env);
/// The calling environment's state.
AddonEnv& addon_env(Napi::Env env);

}  // namespace natten::node
