// CUDA graph bindings (lib/cuda_graph.ts; typed in lib/native.ts), over kernels/runtime/cuda_graph.h:
//   graphBegin({device}), graphEnd({device}) -> graph handle, graphAbort({device}), graphLaunch({graph}).
// A graph handle owns the instantiated graph; the garbage collector frees it (a queued replay runs first).
#include <napi.h>

#include <memory>

#include "../kernels/runtime/cuda_graph.h"
#include "js_interop.h"
#include "options_arg.h"

namespace natten::node {
namespace {

using GraphPtr = std::shared_ptr<gpu::Graph>;
const napi_type_tag kGraphTag = {0x6e617474656e5f67ull, 0x72617068735f3031ull};

int graph_device_arg(const Napi::CallbackInfo& info) { return cuda_device_arg(info, "a CUDA graph"); }

Napi::Value GraphBegin(const Napi::CallbackInfo& info) {
  gpu::graph_begin(graph_device_arg(info));
  return info.Env().Undefined();
}
NATTEN_BINDING("graphBegin", GraphBegin);

Napi::Value GraphEnd(const Napi::CallbackInfo& info) {
  GraphPtr g = gpu::graph_end(graph_device_arg(info));
  auto ext = Napi::External<GraphPtr>::New(info.Env(), new GraphPtr(std::move(g)),
                                           [](Napi::Env, GraphPtr* p) { delete p; });
  ext.TypeTag(&kGraphTag);
  return ext;
}
NATTEN_BINDING("graphEnd", GraphEnd);

Napi::Value GraphAbort(const Napi::CallbackInfo& info) {
  gpu::graph_abort(graph_device_arg(info));
  return info.Env().Undefined();
}
NATTEN_BINDING("graphAbort", GraphAbort);

Napi::Value GraphLaunch(const Napi::CallbackInfo& info) {
  const Options o(info);
  const Napi::Value v = o.get("graph");
  if (!v.IsExternal() || !v.As<Napi::External<GraphPtr>>().CheckTypeTag(&kGraphTag))
    throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", o.name("graph") + " must be a graph handle");
  gpu::graph_launch(**v.As<Napi::External<GraphPtr>>().Data());
  return info.Env().Undefined();
}
NATTEN_BINDING("graphLaunch", GraphLaunch);

}  // namespace
}  // namespace natten::node
