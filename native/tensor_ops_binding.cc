// Bindings of the tensor ops (docs/design.md §6 "Tensor ops"; typed in lib/native.ts): GEMM, add, GELU,
// layer norm, the strided layout copy, and the backward kernels (column sums, GELU and layer-norm backward,
// the MSE loss and its gradient). Each reads one options object, checks that every buffer holds
// what the op touches (overflow-safe), and runs on the CPU queue or the device's stream.
#include "../engine/cpu/engine.h"
#include "../kernels/dispatch/tensor_ops.h"
#include "op_call.h"

namespace natten::node {
namespace {

// The ops' overflow-checked size arithmetic (op_call.h), under short names.
int64_t mul(int64_t a, int64_t b) { return checked_mul(a, b); }
int64_t add(int64_t a, int64_t b) { return checked_add(a, b); }

/// Elements a batch of `count` matrices of `each` elements, `stride` apart, reaches (0 when it touches none).
int64_t batch_extent(int64_t count, int64_t stride, int64_t each) {
  return count == 0 || each == 0 ? 0 : add(mul(count - 1, stride), each);
}

// gemm({dtype, batch, m, n, k, a, aStride, aTrans?, b, bStride, bTrans, bias?, biasStride?, c, allowTf32})
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  OpCall c(info);
  const Options& o = c.options;
  GemmArgs g;
  g.batch = o.count("batch"), g.m = o.count("m"), g.n = o.count("n"), g.k = o.count("k");
  g.a_stride = o.count("aStride"), g.b_stride = o.count("bStride");
  g.a_trans = o.flag("aTrans", false);
  g.b_trans = o.flag("bTrans", false);
  g.allow_tf32 = o.flag("allowTf32", false);
  g.a = c.req("a", batch_extent(g.batch, g.a_stride, mul(g.m, g.k)));
  g.b = c.req("b", batch_extent(g.batch, g.b_stride, mul(g.k, g.n)));
  g.bias_stride = o.integer_or("biasStride", 0, 0, Options::kMaxCount);
  g.bias = c.maybe("bias", g.bias_stride ? batch_extent(g.batch, g.bias_stride, g.n) : g.n);
  g.c = c.req("c", mul(g.batch, mul(g.m, g.n)));
  const DType t = c.t;
  c.dispatch([t, g] { cpu::gemm(t, g); }, [&](int dev) { launch::gemm(dev, t, g); });
  return info.Env().Undefined();
}
NATTEN_BINDING("gemm", Gemm);

// add({dtype, numel, bNumel, a, b, out}): out = a + b, b repeated over a's leading elements.
Napi::Value Add(const Napi::CallbackInfo& info) {
  OpCall c(info);
  AddArgs a;
  a.n = c.options.count("numel");
  a.b_numel = c.options.count("bNumel");
  if (a.n > 0 && (a.b_numel == 0 || a.n % a.b_numel != 0))
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_SHAPE", "options.bNumel must divide options.numel");
  a.a = c.req("a", a.n);
  a.b = c.req("b", a.b_numel);
  a.out = c.req("out", a.n);
  const DType t = c.t;
  c.dispatch([t, a] { cpu::add(t, a); }, [&](int dev) { launch::add(dev, t, a); });
  return info.Env().Undefined();
}
NATTEN_BINDING("add", Add);

// gelu({dtype, numel, x, out, tanh})
Napi::Value Gelu(const Napi::CallbackInfo& info) {
  OpCall c(info);
  GeluArgs a;
  a.n = c.options.count("numel");
  a.tanh = c.options.flag("tanh", false);
  a.x = c.req("x", a.n);
  a.out = c.req("out", a.n);
  const DType t = c.t;
  c.dispatch([t, a] { cpu::gelu(t, a); }, [&](int dev) { launch::gelu(dev, t, a); });
  return info.Env().Undefined();
}
NATTEN_BINDING("gelu", Gelu);

// layerNorm({dtype, rows, cols, x, weight?, bias?, out, eps})
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  OpCall c(info);
  LayerNormArgs a;
  a.rows = c.options.count("rows"), a.cols = c.options.count("cols");
  a.eps = c.options.number("eps");
  const int64_t n = mul(a.rows, a.cols);
  a.x = c.req("x", n);
  a.weight = c.maybe("weight", a.cols);
  a.bias = c.maybe("bias", a.cols);
  a.out = c.req("out", n);
  const DType t = c.t;
  c.dispatch([t, a] { cpu::layer_norm(t, a); }, [&](int dev) { launch::layer_norm(dev, t, a); });
  return info.Env().Undefined();
}
NATTEN_BINDING("layerNorm", LayerNorm);

// sumRows({dtype, rows, cols, x, out}): out[c] = sum over rows of x[r, c].
Napi::Value SumRows(const Napi::CallbackInfo& info) {
  OpCall c(info);
  SumRowsArgs a;
  a.rows = c.options.count("rows"), a.cols = c.options.count("cols");
  a.x = c.req("x", mul(a.rows, a.cols));
  a.out = c.req("out", a.cols);
  const DType t = c.t;
  c.dispatch([t, a] { cpu::sum_rows(t, a); }, [&](int dev) { launch::sum_rows(dev, t, a); });
  return info.Env().Undefined();
}
NATTEN_BINDING("sumRows", SumRows);

// geluBackward({dtype, numel, x, dy, dx, tanh})
Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  OpCall c(info);
  GeluBackwardArgs a;
  a.n = c.options.count("numel");
  a.tanh = c.options.flag("tanh", false);
  a.x = c.req("x", a.n);
  a.dy = c.req("dy", a.n);
  a.dx = c.req("dx", a.n);
  const DType t = c.t;
  c.dispatch([t, a] { cpu::gelu_backward(t, a); }, [&](int dev) { launch::gelu_backward(dev, t, a); });
  return info.Env().Undefined();
}
NATTEN_BINDING("geluBackward", GeluBackward);

// layerNormBackward({dtype, rows, cols, x, weight?, dy, dx, dWeight?, dBias?, eps})
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  OpCall c(info);
  LayerNormBackwardArgs a;
  a.rows = c.options.count("rows"), a.cols = c.options.count("cols");
  a.eps = c.options.number("eps");
  const int64_t n = mul(a.rows, a.cols);
  a.x = c.req("x", n);
  a.weight = c.maybe("weight", a.cols);
  a.dy = c.req("dy", n);
  a.dx = c.req("dx", n);
  a.dweight = c.maybe("dWeight", a.cols);
  a.dbias = c.maybe("dBias", a.cols);
  const DType t = c.t;
  c.dispatch([t, a] { cpu::layer_norm_backward(t, a); }, [&](int dev) { launch::layer_norm_backward(dev, t, a); });
  return info.Env().Undefined();
}
NATTEN_BINDING("layerNormBackward", LayerNormBackward);

// mseLoss({dtype, numel, pred, target, out}): out[0] = mean of (pred - target)^2.
Napi::Value MseLoss(const Napi::CallbackInfo& info) {
  OpCall c(info);
  MseLossArgs a;
  a.n = c.options.count("numel");
  a.pred = c.req("pred", a.n);
  a.target = c.req("target", a.n);
  a.out = c.req("out", 1);
  const DType t = c.t;
  c.dispatch([t, a] { cpu::mse_loss(t, a); }, [&](int dev) { launch::mse_loss(dev, t, a); });
  return info.Env().Undefined();
}
NATTEN_BINDING("mseLoss", MseLoss);

// mseLossBackward({dtype, numel, pred, target, dy, dPred, dTarget?})
Napi::Value MseLossBackward(const Napi::CallbackInfo& info) {
  OpCall c(info);
  MseLossBackwardArgs a;
  a.n = c.options.count("numel");
  a.pred = c.req("pred", a.n);
  a.target = c.req("target", a.n);
  a.dy = c.req("dy", 1);
  a.dpred = c.req("dPred", a.n);
  a.dtarget = c.maybe("dTarget", a.n);
  const DType t = c.t;
  c.dispatch([t, a] { cpu::mse_loss_backward(t, a); }, [&](int dev) { launch::mse_loss_backward(dev, t, a); });
  return info.Env().Undefined();
}
NATTEN_BINDING("mseLossBackward", MseLossBackward);

/// options[key]: `rank` non-negative integers (sizes or strides) into out.
void int_list(const Options& o, const char* key, int rank, int64_t* out) {
  const Napi::Array arr = o.array(key);
  if ((int)arr.Length() != rank)
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE",
                o.name(key) + " must have " + std::to_string(rank) + " entries (options.shape's length)");
  for (int i = 0; i < rank; ++i) {
    const Napi::Value v = arr.Get((uint32_t)i);
    if (!v.IsNumber()) throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", o.name(key) + " must hold integers");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= (double)Options::kMaxCount) || d != (double)(int64_t)d)
      throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE",
                  o.name(key) + "[" + std::to_string(i) + "] must be an integer in [0, 2^53]");
    out[i] = (int64_t)d;
  }
}

/// Elements from the start of a buffer a strided walk over `shape` reaches (0 when the shape is empty).
int64_t strided_extent(const StridedCopyArgs& a, const int64_t* strides, int64_t offset) {
  int64_t last = offset;
  for (int d = 0; d < a.rank; ++d) {
    if (a.shape[d] == 0) return 0;
    last = add(last, mul(a.shape[d] - 1, strides[d]));
  }
  return add(last, 1);
}

// stridedCopy({dtype, shape, srcStrides, dstStrides, srcOffset, dstOffset, src, dst})
Napi::Value StridedCopy(const Napi::CallbackInfo& info) {
  OpCall c(info);
  const Options& o = c.options;
  StridedCopyArgs a;
  const Napi::Array shape = o.array("shape");
  if (shape.Length() > (uint32_t)kMaxCopyRank)
    throw Error(ErrorKind::Range, "ERR_NATTEN_UNSUPPORTED",
                "options.shape has " + std::to_string(shape.Length()) + " axes, at most " +
                    std::to_string(kMaxCopyRank) + " are supported");
  a.rank = (int)shape.Length();
  int_list(o, "shape", a.rank, a.shape);
  int_list(o, "srcStrides", a.rank, a.src_strides);
  int_list(o, "dstStrides", a.rank, a.dst_strides);
  a.src_offset = o.count("srcOffset"), a.dst_offset = o.count("dstOffset");
  a.src = c.req("src", strided_extent(a, a.src_strides, a.src_offset));
  a.dst = c.req("dst", strided_extent(a, a.dst_strides, a.dst_offset));
  const DType t = c.t;
  c.dispatch([t, a] { cpu::strided_copy(t, a); }, [&](int dev) { launch::strided_copy(dev, t, a); });
  return info.Env().Undefined();
}
NATTEN_BINDING("stridedCopy", StridedCopy);

}  // namespace
}  // namespace natten::node
