// fusedConfigs(device, dims, headDim, headDimV, dtype) -> [{pass, dims, headDimTier, dtype, qTileShape,
// kvTileShape, threads, smemBytes}]: the compiled fused-kernel tile configs that can run there
// (kernels/dispatch/fused_configs.h). The CPU device and CPU-only builds have none.
#include <napi.h>

#include <string>

#include "../kernels/runtime/gpu_runtime.h"
#include "js_interop.h"
#if NATTEN_WITH_CUDA
#include "../kernels/dispatch/fused_configs.h"
#endif

namespace natten::node {
namespace {

#if NATTEN_WITH_CUDA
Napi::Array shape_array(Napi::Env env, const int* ext, int dims) {
  Napi::Array a = Napi::Array::New(env, dims);
  for (int i = 0; i < dims; ++i) a.Set(uint32_t(i), Napi::Number::New(env, ext[i]));
  return a;
}
#endif

Napi::Value FusedConfigs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Device d = device_arg(info[0], "device");
  const int64_t dims = int_arg(info[1], "dims");
  const int64_t head_dim = int_arg(info[2], "headDim");
  const int64_t head_dim_v = int_arg(info[3], "headDimV");
  const DType t = dtype_arg(info[4], "dtype");
  Napi::Array out = Napi::Array::New(env);
  if (d.is_cpu()) return out;
  if (d.index >= gpu::device_count())
    throw Error(ErrorKind::Range, "ERR_NATTEN_DEVICE", "no CUDA device cuda:" + std::to_string(d.index));
#if NATTEN_WITH_CUDA
  uint32_t n = 0;
  for (const launch::FusedTileConfig& c :
       launch::fused_configs(d.index, int(dims), int(head_dim), int(head_dim_v), t)) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("pass", c.pass);
    o.Set("kernel", c.kernel);
    o.Set("dims", c.dims);
    o.Set("headDimTier", c.head_dim_tier);
    o.Set("dtype", static_cast<int>(c.dtype));
    o.Set("qTileShape", shape_array(env, c.q_tile, c.dims));
    o.Set("kvTileShape", shape_array(env, c.kv_tile, c.dims));
    o.Set("threads", c.threads);
    o.Set("smemBytes", c.smem_bytes);
    out.Set(n++, o);
  }
#else
  (void)dims, (void)head_dim, (void)head_dim_v, (void)t;
#endif
  return out;
}

}  // namespace

void register_fused_configs(Napi::Env env, Napi::Object exports) {
  exports.Set("fusedConfigs", Napi::Function::New<guarded<FusedConfigs>>(env, "fusedConfigs"));
}

}  // namespace natten::node
