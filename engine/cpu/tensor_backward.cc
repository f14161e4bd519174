// Backward kernels of the tensor ops and the MSE loss (docs/design.md §6 "Training"): column sums (bias
// gradients), GELU backward, layer-norm backward, the MSE loss and its gradient. Half types and float32
// compute in fp32 (float64 in float64) and round once on store. Every sum runs over fixed chunks of its
// input that do not depend on the thread count, so results are deterministic.
#include <math.h>

#include <algorithm>
#include <vector>

#include "../../kernels/common/tensor_args.h"
#include "elem_io.h"
#include "engine.h"
#include "parallel.h"

namespace natten::cpu::NATTEN_SIMD {
namespace {

constexpr int64_t kColBlock = 64;   // columns one task sums (a row's slice of them stays in a cache line or four)
constexpr int64_t kRowChunk = 256;  // rows summed into one partial: the order of the sum is fixed by the shape
constexpr int64_t kBlock = 1024;    // elements of an element-wise task

/// out[c] = sum over rows of v(r, c), where load(r, c0, cnt, vals) writes v(r, c0 .. c0 + cnt) into vals:
/// partial sums over chunks of kRowChunk rows, then the partials added in chunk order.
template <class T, class Load>
void column_sums(int64_t rows, int64_t cols, Load load, T* out) {
  const int64_t chunks = (rows + kRowChunk - 1) / kRowChunk, cblocks = (cols + kColBlock - 1) / kColBlock;
  std::vector<T> partial((size_t)(chunks * cols));
  parallel_for(chunks * cblocks, 1, [&](int64_t begin, int64_t end) {
    T vals[kColBlock];
    for (int64_t task = begin; task < end; ++task) {
      const int64_t ch = task / cblocks, c0 = (task % cblocks) * kColBlock, cnt = std::min(kColBlock, cols - c0);
      T* acc = partial.data() + ch * cols + c0;
      std::fill(acc, acc + cnt, T(0));
      for (int64_t r = ch * kRowChunk; r < std::min(rows, (ch + 1) * kRowChunk); ++r) {
        load(r, c0, cnt, vals);
        for (int64_t i = 0; i < cnt; ++i) acc[i] += vals[i];
      }
    }
  });
  for (int64_t c = 0; c < cols; ++c) {
    T s = 0;
    for (int64_t ch = 0; ch < chunks; ++ch) s += partial[(size_t)(ch * cols + c)];
    out[c] = s;
  }
}

/// Column sums stored into `out` of dtype t (see column_sums).
template <class T, class Load>
void store_column_sums(DType t, int64_t rows, int64_t cols, Load load, void* out) {
  std::vector<T> sums((size_t)cols);
  column_sums<T>(rows, cols, load, sums.data());
  store_row(out, t, 0, cols, sums.data());
}

template <class T>
void sum_rows_as(DType t, const SumRowsArgs& a) {
  store_column_sums<T>(
      t, a.rows, a.cols,
      [&](int64_t r, int64_t c0, int64_t cnt, T* v) { load_row(a.x, t, (size_t)(r * a.cols + c0), cnt, v); }, a.out);
}

constexpr double kSqrtHalf = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kGeluCubic = 0.044715;

/// d gelu(x) / dx: Φ(x) + x φ(x) exactly, or the derivative of the tanh form.
template <class T>
T gelu_grad(T x, bool approx) {
  if (approx) {
    const T th = std::tanh((T)kSqrt2OverPi * (x + (T)kGeluCubic * x * x * x));
    return (T)0.5 * ((T)1 + th) +
           (T)0.5 * x * ((T)1 - th * th) * (T)kSqrt2OverPi * ((T)1 + (T)(3 * kGeluCubic) * x * x);
  }
  return (T)0.5 * ((T)1 + std::erf(x * (T)kSqrtHalf)) + x * (T)kInvSqrt2Pi * std::exp((T)-0.5 * x * x);
}

/// Runs `block(u, v, cnt, i0)` over n elements of two inputs in blocks of kBlock, spread over the pool: u and
/// v hold elements i0..i0+cnt-1 of `a` and `b` loaded in T; block computes and stores what it needs.
template <class T, class Block>
void for_blocks2(DType t, int64_t n, const void* a, const void* b, Block block) {
  parallel_for((n + kBlock - 1) / kBlock, 16, [&](int64_t begin, int64_t end) {
    T u[kBlock], v[kBlock];
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t i0 = blk * kBlock, cnt = std::min(kBlock, n - i0);
      load_row(a, t, (size_t)i0, cnt, u);
      load_row(b, t, (size_t)i0, cnt, v);
      block(u, v, cnt, i0);
    }
  });
}

template <class T>
void gelu_backward_as(DType t, const GeluBackwardArgs& a) {
  for_blocks2<T>(t, a.n, a.x, a.dy, [&](T* x, T* g, int64_t cnt, int64_t i0) {
    for (int64_t i = 0; i < cnt; ++i) g[i] *= gelu_grad(x[i], a.tanh);
    store_row(a.dx, t, (size_t)i0, cnt, g);
  });
}

/// One row of the layer-norm backward: dx from x, dy and weight (w null: 1); writes the row's mean and
/// 1/sqrt(var + eps) into stats[0..1] for the parameter gradients.
template <class T>
void layer_norm_backward_row(int64_t n, T* x, const T* dy, const T* w, double eps, T* stats) {
  T mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= (T)n;
  T var = 0;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const T rstd = (T)1 / std::sqrt(var / (T)n + (T)eps);
  T sg = 0, sgx = 0;  // sums of g = dy * w and of g * x̂
  for (int64_t i = 0; i < n; ++i) {
    x[i] = (x[i] - mean) * rstd;
    const T g = w ? dy[i] * w[i] : dy[i];
    sg += g;
    sgx += g * x[i];
  }
  sg /= (T)n, sgx /= (T)n;
  for (int64_t i = 0; i < n; ++i) x[i] = rstd * ((w ? dy[i] * w[i] : dy[i]) - sg - x[i] * sgx);
  stats[0] = mean, stats[1] = rstd;
}

template <class T>
void layer_norm_backward_as(DType t, const LayerNormBackwardArgs& a) {
  const int64_t C = a.cols;
  std::vector<T> w, stats((size_t)(2 * a.rows));
  if (a.weight) w.resize((size_t)C), load_row(a.weight, t, 0, C, w.data());
  parallel_for(a.rows, 16, [&](int64_t begin, int64_t end) {
    std::vector<T> x((size_t)C), dy((size_t)C);
    for (int64_t r = begin; r < end; ++r) {
      load_row(a.x, t, (size_t)(r * C), C, x.data());
      load_row(a.dy, t, (size_t)(r * C), C, dy.data());
      layer_norm_backward_row(C, x.data(), dy.data(), a.weight ? w.data() : nullptr, a.eps, &stats[(size_t)(2 * r)]);
      store_row(a.dx, t, (size_t)(r * C), C, x.data());
    }
  });
  if (a.dweight) {
    store_column_sums<T>(
        t, a.rows, C,
        [&](int64_t r, int64_t c0, int64_t cnt, T* v) {
          T x[kColBlock];
          load_row(a.x, t, (size_t)(r * C + c0), cnt, x);
          load_row(a.dy, t, (size_t)(r * C + c0), cnt, v);
          const T mean = stats[(size_t)(2 * r)], rstd = stats[(size_t)(2 * r + 1)];
          for (int64_t i = 0; i < cnt; ++i) v[i] *= (x[i] - mean) * rstd;
        },
        a.dweight);
  }
  if (a.dbias) sum_rows_as<T>(t, SumRowsArgs{a.rows, C, a.dy, a.dbias});
}

/// sum over i of (pred_i - target_i)^2 in double, over fixed chunks added in order.
double squared_error_sum(DType t, int64_t n, const void* pred, const void* target) {
  const int64_t chunks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial((size_t)chunks);
  parallel_for(chunks, 16, [&](int64_t begin, int64_t end) {
    double p[kBlock], q[kBlock];
    for (int64_t ch = begin; ch < end; ++ch) {
      const int64_t i0 = ch * kBlock, cnt = std::min(kBlock, n - i0);
      load_row(pred, t, (size_t)i0, cnt, p);
      load_row(target, t, (size_t)i0, cnt, q);
      double s = 0;
      for (int64_t i = 0; i < cnt; ++i) s += (p[i] - q[i]) * (p[i] - q[i]);
      partial[(size_t)ch] = s;
    }
  });
  double s = 0;
  for (double v : partial) s += v;
  return s;
}

template <class T>
void mse_loss_backward_as(DType t, const MseLossBackwardArgs& a) {
  T dy;
  load_row(a.dy, t, 0, 1, &dy);
  const T factor = (T)2 * dy / (T)a.n;
  for_blocks2<T>(t, a.n, a.pred, a.target, [&](T* p, T* q, int64_t cnt, int64_t i0) {
    for (int64_t i = 0; i < cnt; ++i) p[i] = factor * (p[i] - q[i]);
    store_row(a.dpred, t, (size_t)i0, cnt, p);
    if (!a.dtarget) return;
    for (int64_t i = 0; i < cnt; ++i) p[i] = -p[i];
    store_row(a.dtarget, t, (size_t)i0, cnt, p);
  });
}

}  // namespace

void sum_rows(DType t, const SumRowsArgs& a) {
  if (a.cols == 0) return;
  if (t == DType::Float64) sum_rows_as<double>(t, a);
  else sum_rows_as<float>(t, a);
}

void gelu_backward(DType t, const GeluBackwardArgs& a) {
  if (t == DType::Float64) gelu_backward_as<double>(t, a);
  else gelu_backward_as<float>(t, a);
}

void layer_norm_backward(DType t, const LayerNormBackwardArgs& a) {
  if (a.cols == 0) return;
  if (t == DType::Float64) layer_norm_backward_as<double>(t, a);
  else layer_norm_backward_as<float>(t, a);
}

void mse_loss(DType t, const MseLossArgs& a) {
  const double mean = squared_error_sum(t, a.n, a.pred, a.target) / (double)a.n;  // 0/0: NaN for no elements
  store_row(a.out, t, 0, 1, &mean);
}

void mse_loss_backward(DType t, const MseLossBackwardArgs& a) {
  if (a.n == 0) return;
  if (t == DType::Float64) mse_loss_backward_as<double>(t, a);
  else mse_loss_backward_as<float>(t, a);
}

}  // namespace natten::cpu::NATTEN_SIMD
