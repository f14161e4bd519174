#include "problem_arg.h"

#include <cmath>
#include <string>

#include "../kernels/common/error.h"

namespace natten::node {
namespace {

[[noreturn]] void type_error(const std::string& msg) {
  throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", msg);
}
[[noreturn]] void range_error(const std::string& msg) {
  throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE", msg);
}

Napi::Value field(const Napi::Object& o, const char* key) { return o.Get(key); }

bool present(const Napi::Value& v) { return !v.IsUndefined() && !v.IsNull(); }

int64_t int_field(const Napi::Object& o, const std::string& name, const char* key, bool required, int64_t dflt,
                  int64_t min, int64_t max) {
  Napi::Value v = field(o, key);
  if (!present(v)) {
    if (required) type_error(name + "." + key + " is required");
    return dflt;
  }
  if (!v.IsNumber()) type_error(name + "." + key + " must be an integer");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d))
    type_error(name + "." + key + " must be an integer, got " + std::to_string(d));
  if (d < (double)min || d > (double)max)
    range_error(name + "." + key + " must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                std::to_string((int64_t)d));
  return (int64_t)d;
}

/// Reads an array field of `dims` integers (or returns `dflt` for every axis when absent and optional).
void int_array_field(const Napi::Object& o, const std::string& name, const char* key, int dims, bool required, int dflt,
                     int min, int* out) {
  Napi::Value v = field(o, key);
  if (!present(v)) {
    if (required) type_error(name + "." + key + " is required");
    for (int a = 0; a < dims; ++a) out[a] = dflt;
    return;
  }
  if (!v.IsArray()) type_error(name + "." + key + " must be an array of " + std::to_string(dims) + " integers");
  Napi::Array arr = v.As<Napi::Array>();
  if ((int)arr.Length() != dims)
    range_error(name + "." + key + " must have " + std::to_string(dims) + " entries, got " +
                std::to_string(arr.Length()));
  for (int a = 0; a < dims; ++a) {
    Napi::Value e = arr.Get((uint32_t)a);
    if (!e.IsNumber()) type_error(name + "." + key + "[" + std::to_string(a) + "] must be an integer");
    const double d = e.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::floor(d) || d < min || d > 2147483647.0)
      range_error(name + "." + key + "[" + std::to_string(a) + "] must be an integer >= " + std::to_string(min));
    out[a] = (int)d;
  }
}

bool bool_field(const Napi::Object& o, const char* key, bool dflt) {
  Napi::Value v = field(o, key);
  return present(v) ? v.ToBoolean().Value() : dflt;
}

int64_t mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_SHAPE", "tensor sizes overflow 64-bit element counts");
  return r;
}

}  // namespace

NaProblem problem_arg(const Napi::Value& v, const char* name_c) {
  const std::string name(name_c);
  if (!v.IsObject()) type_error(name + " must be an object");
  Napi::Object o = v.As<Napi::Object>();
  NaProblem p;
  const int64_t big = (int64_t)1 << 53;
  p.dims = (int)int_field(o, name, "dims", true, 1, 1, kMaxDims);
  p.batch = int_field(o, name, "batch", true, 1, 0, big);
  p.heads = int_field(o, name, "heads", true, 1, 1, big);
  p.heads_kv = int_field(o, name, "headsKv", false, p.heads, 1, big);
  p.head_dim = int_field(o, name, "headDim", true, 1, 1, big);
  p.head_dim_v = int_field(o, name, "headDimV", false, p.head_dim, 1, big);
  int_array_field(o, name, "length", p.dims, true, 1, 1, p.length);
  int_array_field(o, name, "kernel", p.dims, true, 2, 2, p.kernel);
  int_array_field(o, name, "stride", p.dims, false, 1, 1, p.stride);
  int_array_field(o, name, "dilation", p.dims, false, 1, 1, p.dilation);
  Napi::Value c = field(o, "causal");
  if (present(c)) {
    if (!c.IsArray() || (int)c.As<Napi::Array>().Length() != p.dims)
      type_error(name + ".causal must be an array of " + std::to_string(p.dims) + " booleans");
    for (int a = 0; a < p.dims; ++a) p.causal[a] = c.As<Napi::Array>().Get((uint32_t)a).ToBoolean().Value();
  }
  p.n_extra = int_field(o, name, "nExtra", false, 0, 0, big);
  Napi::Value s = field(o, "scale");
  if (present(s)) {
    if (!s.IsNumber()) type_error(name + ".scale must be a number");
    const double d = s.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d)) range_error(name + ".scale must be finite");
    p.scale = (float)d;
  } else {
    p.scale = (float)(1.0 / std::sqrt((double)p.head_dim));
  }
  p.has_rpb = bool_field(o, "hasRpb", false);

  if (p.heads % p.heads_kv != 0)
    range_error(name + ".headsKv (" + std::to_string(p.heads_kv) + ") must divide heads (" + std::to_string(p.heads) +
                ")");
  for (int a = 0; a < p.dims; ++a) {
    const std::string ax = "[" + std::to_string(a) + "]";
    if (p.stride[a] > p.kernel[a])
      range_error(name + ".stride" + ax + " (" + std::to_string(p.stride[a]) + ") must be <= kernel" + ax + " (" +
                  std::to_string(p.kernel[a]) + ")");
    if ((int64_t)p.kernel[a] * p.dilation[a] > p.length[a])
      range_error(name + ": kernel" + ax + " * dilation" + ax + " = " +
                  std::to_string((int64_t)p.kernel[a] * p.dilation[a]) + " must be <= length" + ax + " = " +
                  std::to_string(p.length[a]));
    if (p.has_rpb && (p.kernel[a] % 2 == 0 || p.causal[a]))
      range_error(name + ": relative positional bias needs an odd, non-causal kernel on every axis");
  }
  problem_sizes(p);  // rejects sizes that overflow
  return p;
}

FusedConfig config_arg(const Napi::Value& v, int dims, const char* name_c) {
  FusedConfig c;
  if (!present(v)) return c;
  const std::string name(name_c);
  if (!v.IsObject()) type_error(name + " must be an object");
  Napi::Object o = v.As<Napi::Object>();
  const char* tiles[4] = {"qTileShape", "kvTileShape", "backwardQTileShape", "backwardKvTileShape"};
  int* dst[4] = {c.q_tile, c.kv_tile, c.backward_q_tile, c.backward_kv_tile};
  for (int i = 0; i < 4; ++i) int_array_field(o, name, tiles[i], dims, false, 0, 1, dst[i]);
  c.kv_splits = (int)int_field(o, name, "kvSplits", false, 0, 0, 1 << 20);
  c.forward_arch = (int)int_field(o, name, "forwardArch", false, 0, 0, 90);
  if (c.forward_arch != 0 && c.forward_arch != 80 && c.forward_arch != 90)
    range_error(name + ".forwardArch must be 80 or 90, got " + std::to_string(c.forward_arch));
  c.kv_parallel = bool_field(o, "kvParallel", true);
  c.deterministic = bool_field(o, "deterministic", false);
  c.use_reference = bool_field(o, "useReference", false);
  c.scratch_limit_bytes = int_field(o, name, "scratchLimitBytes", false, -1, -1, (int64_t)1 << 62);
  return c;
}

ProblemSizes problem_sizes(const NaProblem& p) {
  ProblemSizes s;
  int64_t n = 1, w = 1, r = 1;
  for (int a = 0; a < p.dims; ++a) {
    n = mul(n, p.length[a]);
    w = mul(w, p.kernel[a]);
    r = mul(r, 2 * (int64_t)p.kernel[a] - 1);
  }
  s.tokens = n;
  const int64_t bn = mul(p.batch, n);
  s.fused_q = mul(mul(bn, p.heads), p.head_dim);
  s.fused_k = mul(mul(bn, p.heads_kv), p.head_dim);
  s.fused_v = mul(mul(bn, p.heads_kv), p.head_dim_v);
  s.fused_out = mul(mul(bn, p.heads), p.head_dim_v);
  s.lse = mul(bn, p.heads);
  s.fused_ek = mul(mul(mul(p.batch, p.n_extra), p.heads_kv), p.head_dim);
  s.fused_ev = mul(mul(mul(p.batch, p.n_extra), p.heads_kv), p.head_dim_v);
  s.unfused_q = mul(mul(bn, p.heads), p.head_dim);
  s.unfused_v = mul(mul(bn, p.heads), p.head_dim_v);
  s.attn = mul(mul(bn, p.heads), w + p.n_extra);
  s.unfused_ek = mul(mul(mul(p.batch, p.heads), p.n_extra), p.head_dim);
  s.unfused_ev = mul(mul(mul(p.batch, p.heads), p.n_extra), p.head_dim_v);
  s.rpb = mul(p.heads, r);
  mul(s.attn, 8);  // byte counts of the largest buffers must fit too
  mul(s.fused_q, 8);
  mul(s.fused_out, 8);
  return s;
}

}  // namespace natten::node
