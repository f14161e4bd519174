// fusedConfigs({device, dims, headDim, headDimV, dtype, problem?, caps?}) -> [{pass, kernel, dims, headDimTier,
// dtype, qTileShape, kvTileShape, threads, smemBytes, cost?}]: the compiled fused-kernel tile configs that can run
// there (kernels/dispatch/fused_configs.h; typed in lib/native.ts), each with its family's cost on `problem` when
// one is given (the autotuner ranks its candidates by it). The CPU device and CPU-only builds have none.
// With `caps` (caps_arg.h) the list is for the device they describe and `device` is not read; a CPU-only
// build then throws ERR_NATTEN_NO_CUDA (it has no registry to answer from).
#include <napi.h>

#include <string>

#include "../kernels/common/problem.h"
#include "../kernels/runtime/gpu_runtime.h"
#include "caps_arg.h"
#include "js_interop.h"
#include "options_arg.h"
#include "problem_arg.h"
#if NATTEN_WITH_CUDA
#include "../kernels/dispatch/fused_configs.h"
#endif

namespace natten::node {
namespace {

Napi::Value FusedConfigs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Options opts(info);
  const int64_t dims = opts.integer("dims", 1, kMaxDims);
  const int64_t head_dim = opts.integer("headDim", 1, 1 << 30);
  const int64_t head_dim_v = opts.integer("headDimV", 1, 1 << 30);
  const DType t = opts.dtype();
  const bool costed = opts.has("problem");
  const NaProblem problem = costed ? problem_arg(opts.object("problem")) : NaProblem{};
  if (costed && problem.dims != dims)
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE", "options.problem.dims must equal options.dims");
  Napi::Array out = Napi::Array::New(env);
  const bool given_caps = Options::present(opts.get("caps"));
#if NATTEN_WITH_CUDA
  std::vector<launch::FusedTileConfig> configs;
  if (given_caps) {
    configs = launch::fused_configs_for(caps_arg(opts.object("caps")), int(dims), int(head_dim), int(head_dim_v), t,
                                        costed ? &problem : nullptr);
  } else {
    const Device d = opts.device();
    if (d.is_cpu()) return out;
    if (d.index >= gpu::device_count())
      throw Error(ErrorKind::Range, "ERR_NATTEN_DEVICE", "no CUDA device cuda:" + std::to_string(d.index));
    configs = launch::fused_configs(d.index, int(dims), int(head_dim), int(head_dim_v), t, costed ? &problem : nullptr);
  }
  uint32_t n = 0;
  for (const launch::FusedTileConfig& c : configs) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("pass", c.pass);
    o.Set("kernel", c.kernel);
    o.Set("dims", c.dims);
    o.Set("headDimTier", c.head_dim_tier);
    o.Set("dtype", static_cast<int>(c.dtype));
    o.Set("qTileShape", int_array(env, c.q_tile, c.dims));
    o.Set("kvTileShape", int_array(env, c.kv_tile, c.dims));
    o.Set("threads", c.threads);
    o.Set("smemBytes", c.smem_bytes);
    if (costed) o.Set("cost", c.cost);
    out.Set(n++, o);
  }
#else
  (void)dims, (void)head_dim, (void)head_dim_v, (void)t;
  if (given_caps)
    throw Error(ErrorKind::Natten, "ERR_NATTEN_NO_CUDA",
                "fusedConfigs for given capabilities needs the CUDA build: this natten-node addon was built "
                "without CUDA, so it holds no fused-kernel configs");
  const Device d = opts.device();
  if (!d.is_cpu())
    throw Error(ErrorKind::Range, "ERR_NATTEN_DEVICE", "no CUDA device cuda:" + std::to_string(d.index));
#endif
  return out;
}
NATTEN_BINDING("fusedConfigs", FusedConfigs);

}  // namespace
}  // namespace natten::node
