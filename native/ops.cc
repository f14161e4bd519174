#include "ops.h"

namespace natten::node {

void register_ops(Napi::Env env, Napi::Object exports) {
  // Op families add one line each here as they land.
}

}  // namespace natten::node
