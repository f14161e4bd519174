// Multi-tensor optimizer steps and GradScaler's unscale on the CPU (docs/design.md §6 "Training"): every
// parameter of the call is cut into chunks that the thread pool shares, so one small tensor does not leave
// the pool idle and one large tensor uses all of it. The per-element math is kernels/common/optim_update.h.
#include <stddef.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "../../kernels/common/optim_update.h"
#include "elem_io.h"
#include "engine.h"
#include "parallel.h"

namespace natten::cpu::NATTEN_SIMD {
namespace {

constexpr int64_t kChunk = 16384;  // elements per task: a few L2-sized passes over the step's buffers

/// A piece [begin, end) of tensor `index` of the call.
struct Piece {
  int64_t index, begin, end;
};

/// The call's tensors (sizes given by n_of) cut into pieces of at most kChunk elements.
template <class NOf>
std::vector<Piece> pieces(int64_t count, NOf n_of) {
  std::vector<Piece> out;
  for (int64_t i = 0; i < count; ++i)
    for (int64_t b = 0; b < n_of(i); b += kChunk) out.push_back({i, b, std::min(b + kChunk, n_of(i))});
  return out;
}

/// Parameter elements as the compute type S: read from the master copy when there is one, else from the
/// parameter itself (fp32 or float64); written back to both.
template <class S>
struct ParamAccess {
  DType t;
  const OptimTensor& x;
  S get(int64_t i) const {
    if (x.master) return static_cast<const float*>(x.master)[i];
    return static_cast<const S*>(x.param)[i];
  }
  void set(int64_t i, S v) const {
    if (x.master) {
      static_cast<float*>(x.master)[i] = (float)v;
      store_f32(x.param, t, (size_t)i, (float)v);
    } else {
      static_cast<S*>(x.param)[i] = v;
    }
  }
};

template <class S>
S* state(void* p) {
  return static_cast<S*>(p);
}

/// Elements [begin, end) of one parameter.
template <class S>
void step_piece(DType t, const OptimCoeffs<S>& c, OptimKind kind, const OptimTensor& x, int64_t begin, int64_t end) {
  const ParamAccess<S> p{t, x};
  const S* g = static_cast<const S*>(x.grad);
  S *s0 = state<S>(x.state0), *s1 = state<S>(x.state1), *s2 = state<S>(x.state2);
  if (kind == OptimKind::Sgd) {
    for (int64_t i = begin; i < end; ++i) p.set(i, sgd_update<S>(c, p.get(i), g[i], s0 ? s0 + i : nullptr, x.first));
    return;
  }
  const S step_size = (S)x.step_size, bc2 = (S)x.bias_correction2_sqrt;
  for (int64_t i = begin; i < end; ++i)
    p.set(i, adamw_update<S>(c, p.get(i), g[i], s0 + i, s1 + i, s2 ? s2 + i : nullptr, step_size, bc2));
}

template <class S>
void step_all(DType t, const OptimStepArgs& a) {
  const OptimCoeffs<S> c = optim_coeffs<S>(a.hyper);
  const std::vector<Piece> work = pieces(a.count, [&](int64_t i) { return a.tensors[i].n; });
  parallel_for((int64_t)work.size(), 1, [&](int64_t b, int64_t e) {
    for (int64_t w = b; w < e; ++w)
      step_piece<S>(t, c, a.hyper.kind, a.tensors[work[w].index], work[w].begin, work[w].end);
  });
}

/// Multiplies elements [begin, end) by inv and reports whether any was inf or NaN before.
template <class S>
bool unscale_piece(S* g, int64_t begin, int64_t end, S inv) {
  bool bad = false;
  for (int64_t i = begin; i < end; ++i) {
    bad |= !optim_finite(g[i]);
    g[i] *= inv;
  }
  return bad;
}

template <class S>
void unscale_all(const UnscaleArgs& a) {
  const std::vector<Piece> work = pieces(a.count, [&](int64_t i) { return a.grads[i].n; });
  std::atomic<bool> found{false};
  parallel_for((int64_t)work.size(), 1, [&](int64_t b, int64_t e) {
    bool bad = false;
    for (int64_t w = b; w < e; ++w)
      bad |= unscale_piece<S>(static_cast<S*>(a.grads[work[w].index].data), work[w].begin, work[w].end, (S)a.inv_scale);
    if (bad) found.store(true, std::memory_order_relaxed);
  });
  if (found.load()) *a.found_inf = 1.f;
}

}  // namespace

void optim_step(DType t, const OptimStepArgs& a) {
  if (t == DType::Float64) step_all<double>(t, a);
  else step_all<float>(t, a);
}

void unscale_grads(DType t, const UnscaleArgs& a) {
  if (t == DType::Float64) unscale_all<double>(a);
  else unscale_all<float>(a);
}

}  // namespace natten::cpu::NATTEN_SIMD
