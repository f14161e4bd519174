#include "problem_arg.h"

#include <cmath>
#include <string>

#include "../kernels/common/error.h"
#include "op_call.h"

namespace natten::node {
namespace {

[[noreturn]] void range_error(const std::string& msg) {
  throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE", msg);
}

int64_t mul(int64_t a, int64_t b) { return checked_mul(a, b); }
int64_t add(int64_t a, int64_t b) { return checked_add(a, b); }

/// The per-axis invariants every window computation relies on (kernels/common/window.h): a window of the
/// stride's leader still holds the query's own relative positions, and k keys fit in every dilation group.
void check_axes(const NaProblem& p, const Options& o) {
  for (int a = 0; a < p.dims; ++a) {
    const std::string ax = "[" + std::to_string(a) + "]";
    if (p.stride[a] > p.kernel[a])
      range_error(o.self_name() + ".stride" + ax + " (" + std::to_string(p.stride[a]) + ") must be <= kernel" + ax +
                  " (" + std::to_string(p.kernel[a]) + ")");
    if ((int64_t)p.kernel[a] * p.dilation[a] > p.length[a])
      range_error(o.self_name() + ": kernel" + ax + " * dilation" + ax + " = " +
                  std::to_string((int64_t)p.kernel[a] * p.dilation[a]) + " must be <= length" + ax + " = " +
                  std::to_string(p.length[a]));
  }
}

}  // namespace

NaProblem problem_arg(const Options& o) {
  const int64_t big = Options::kMaxCount;
  NaProblem p;
  p.dims = (int)o.integer("dims", 1, kMaxDims);
  p.batch = o.count("batch");
  p.heads = o.integer("heads", 1, big);
  p.heads_kv = o.integer_or("headsKv", p.heads, 1, big);
  p.head_dim = o.integer("headDim", 1, big);
  p.head_dim_v = o.integer_or("headDimV", p.head_dim, 1, big);
  o.per_axis("length", p.dims, 1, p.length);
  o.per_axis("kernel", p.dims, 1, p.kernel);
  o.per_axis_or("stride", p.dims, 1, 1, p.stride);
  o.per_axis_or("dilation", p.dims, 1, 1, p.dilation);
  o.flags_per_axis("causal", p.dims, p.causal);
  p.n_extra = o.integer_or("nExtra", 0, 0, big);
  // Any number: a non-finite scale gives non-finite outputs, never an out-of-bounds access.
  p.scale_f64 = o.number_or("scale", 1.0 / std::sqrt((double)p.head_dim));
  p.scale = (float)p.scale_f64;
  p.has_rpb = o.flag("hasRpb", false);
  if (p.heads % p.heads_kv != 0)
    range_error(o.name("headsKv") + " (" + std::to_string(p.heads_kv) + ") must divide heads (" +
                std::to_string(p.heads) + ")");
  check_axes(p, o);
  problem_sizes(p);  // rejects sizes that overflow
  return p;
}

FusedConfig config_arg(const Options& o, int dims) {
  FusedConfig c;
  o.per_axis_or("qTileShape", dims, 1, 0, c.q_tile);
  o.per_axis_or("kvTileShape", dims, 1, 0, c.kv_tile);
  o.per_axis_or("backwardQTileShape", dims, 1, 0, c.backward_q_tile);
  o.per_axis_or("backwardKvTileShape", dims, 1, 0, c.backward_kv_tile);
  c.kv_splits = (int)o.integer_or("kvSplits", 0, 0, 1 << 20);
  c.forward_arch = (int)o.integer_or("forwardArch", 0, 0, 91);
  c.backward_arch = (int)o.integer_or("backwardArch", 0, 0, 90);
  c.kv_parallel = o.flag("kvParallel", true);
  c.deterministic = o.flag("deterministic", false);
  c.use_reference = o.flag("useReference", false);
  c.scratch_limit_bytes = o.integer_or("scratchLimitBytes", -1, -1, (int64_t)1 << 62);
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
  s.attn = mul(mul(bn, p.heads), add(w, p.n_extra));
  s.unfused_ek = mul(mul(mul(p.batch, p.heads), p.n_extra), p.head_dim);
  s.unfused_ev = mul(mul(mul(p.batch, p.heads), p.n_extra), p.head_dim_v);
  s.rpb = mul(p.heads, r);
  mul(s.attn, 8);  // byte counts of the largest buffers must fit too
  mul(s.fused_q, 8);
  mul(s.fused_out, 8);
  return s;
}

}  // namespace natten::node
