// fused_choice.h for CPU-only builds: there are no fused configs to choose from.
#include "fused_choice.h"

#include "../common/error.h"

namespace natten::launch {

FusedChoices choose_fused_configs(const NaProblem&, DType, const fused::DeviceCaps&) {
  throw Error(ErrorKind::Natten, "ERR_NATTEN_NO_CUDA", "this natten-node addon was built without CUDA");
}

}  // namespace natten::launch
