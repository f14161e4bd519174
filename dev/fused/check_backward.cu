// Standalone GPU check and timing harness of the fused NA backward (not part of the addon build).
//
//   nvcc -std=c++17 -O3 -arch=sm_90a --expt-relaxed-constexpr -I. dev/fused/check_backward.cu (+ the three
//        kernels/fused/backward/fna_backward{,_f16,_bf16}.cu files and kernels/runtime/device_caps.cu) -o /tmp/cb
//   /tmp/cb sweep [cases] [seed]   random problems vs a host fp64 reference, both dQ modes, determinism
//   /tmp/cb small                   a few small problems (for compute-sanitizer)
//   /tmp/cb bench                   timings of the issue's problem list (CUDA events, median)
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/common/dtype.h"
#include "kernels/common/window.h"
#include "kernels/fused/backward/fna_backward.h"
#include "kernels/fused/backward/fna_backward_kernels.h"
#include "dev/fused/window_keys.h"

using namespace natten;
using namespace natten::fused;

#define CK(x)                                                                                  \
  do {                                                                                         \
    cudaError_t e_ = (x);                                                                      \
    if (e_ != cudaSuccess) {                                                                   \
      fprintf(stderr, "CUDA %s at %s:%d: %s\n", cudaGetErrorName(e_), __FILE__, __LINE__, #x); \
      exit(2);                                                                                 \
    }                                                                                          \
  } while (0)

static void parallel_for(int64_t n, const std::function<void(int64_t)>& fn) {
  const int nt = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> th;
  std::atomic<int64_t> next{0};
  for (int t = 0; t < nt; ++t)
    th.emplace_back([&] {
      for (int64_t i; (i = next.fetch_add(1)) < n;) fn(i);
    });
  for (auto& t : th) t.join();
}

struct Case {
  NaProblem p;
  DType t = DType::BFloat16;
  BackwardTileConfig tiles{};
  uint64_t seed = 1;
};

static std::string describe(const Case& c) {
  const NaProblem& p = c.p;
  char buf[512];
  std::string ax;
  for (int a = 0; a < p.dims; ++a) {
    char s[96];
    snprintf(s, sizeof s, "%sL%d k%d s%d d%d%s", a ? " | " : "", p.length[a], p.kernel[a], p.stride[a], p.dilation[a],
             p.causal[a] ? " c" : "");
    ax += s;
  }
  snprintf(buf, sizeof buf, "%s %dD [%s] B%lld H%lld/%lld D%lld/%lld E%lld q%s kv%s",
           c.t == DType::BFloat16 ? "bf16" : "fp16", p.dims, ax.c_str(), (long long)p.batch, (long long)p.heads,
           (long long)p.heads_kv, (long long)p.head_dim, (long long)p.head_dim_v, (long long)p.n_extra,
           shape_text(c.tiles.q, p.dims).c_str(), shape_text(c.tiles.kv, p.dims).c_str());
  return buf;
}

// ---- host data --------------------------------------------------------------------------------------

struct HostTensor {
  std::vector<double> x;    // values (already rounded to the dtype)
  std::vector<uint16_t> h;  // dtype bits
};

static HostTensor random_tensor(size_t n, DType t, std::mt19937_64& rng, double scale) {
  std::normal_distribution<double> nd(0.0, 1.0);
  HostTensor r;
  r.x.resize(n);
  r.h.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const double v = nd(rng) * scale;
    store_element(&r.h[i], t, 0, v);
    r.x[i] = load_element(&r.h[i], t, 0);
  }
  return r;
}

static HostTensor round_tensor(const std::vector<double>& v, DType t) {
  HostTensor r;
  r.x.resize(v.size());
  r.h.resize(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    store_element(&r.h[i], t, 0, v[i]);
    r.x[i] = load_element(&r.h[i], t, 0);
  }
  return r;
}

struct Reference {
  std::vector<double> out, lse, dq, dk, dv, dek, dev;
};

/// fp64 forward (O, LSE) and backward, with Delta from the dtype-rounded O (what the GPU sees).
static void reference(const Case& c, const HostTensor& q, const HostTensor& k, const HostTensor& v,
                      const HostTensor& ek, const HostTensor& ev, const HostTensor& dout, Reference& r,
                      HostTensor& out_rounded) {
  const NaProblem& p = c.p;
  const int64_t N = p.tokens(), B = p.batch, H = p.heads, Hk = p.heads_kv, D = p.head_dim, Dv = p.head_dim_v,
                E = p.n_extra;
  r.out.assign(B * N * H * Dv, 0);
  r.lse.assign(B * N * H, 0);
  std::vector<std::vector<int64_t>> win(N);
  parallel_for(N, [&](int64_t i) { win[i] = window_keys(p, i); });
  // forward
  parallel_for(B * N * H, [&](int64_t row) {
    const int64_t h = row % H, i = (row / H) % N, b = row / (H * N), hk = p.kv_head(h);
    const double* qi = &q.x[row * D];
    std::vector<double> s;
    for (int64_t j : win[i]) {
      const double* kj = &k.x[((b * N + j) * Hk + hk) * D];
      double d = 0;
      for (int64_t x = 0; x < D; ++x) d += qi[x] * kj[x];
      s.push_back(d * p.scale);
    }
    for (int64_t e = 0; e < E; ++e) {
      const double* kj = &ek.x[((b * E + e) * Hk + hk) * D];
      double d = 0;
      for (int64_t x = 0; x < D; ++x) d += qi[x] * kj[x];
      s.push_back(d * p.scale);
    }
    double m = -INFINITY;
    for (double x : s) m = std::max(m, x);
    double l = 0;
    for (double x : s) l += std::exp(x - m);
    const double lse = m + std::log(l);
    r.lse[row] = lse;
    double* o = &r.out[row * Dv];
    size_t idx = 0;
    for (int64_t j : win[i]) {
      const double pj = std::exp(s[idx++] - lse);
      const double* vj = &v.x[((b * N + j) * Hk + hk) * Dv];
      for (int64_t x = 0; x < Dv; ++x) o[x] += pj * vj[x];
    }
    for (int64_t e = 0; e < E; ++e) {
      const double pj = std::exp(s[idx++] - lse);
      const double* vj = &ev.x[((b * E + e) * Hk + hk) * Dv];
      for (int64_t x = 0; x < Dv; ++x) o[x] += pj * vj[x];
    }
  });
  out_rounded = round_tensor(r.out, c.t);
  // backward: parallel over (b, hk) so dK/dV accumulate without races
  r.dq.assign(B * N * H * D, 0);
  r.dk.assign(B * N * Hk * D, 0);
  r.dv.assign(B * N * Hk * Dv, 0);
  r.dek.assign(B * E * Hk * D, 0);
  r.dev.assign(B * E * Hk * Dv, 0);
  parallel_for(B * Hk, [&](int64_t bh) {
    const int64_t b = bh / Hk, hk = bh % Hk;
    for (int64_t h = 0; h < H; ++h) {
      if (p.kv_head(h) != hk) continue;
      for (int64_t i = 0; i < N; ++i) {
        const int64_t row = (b * N + i) * H + h;
        const double* qi = &q.x[row * D];
        const double* gi = &dout.x[row * Dv];
        const double* oi = &out_rounded.x[row * Dv];
        double delta = 0;
        for (int64_t x = 0; x < Dv; ++x) delta += gi[x] * oi[x];
        double* dqi = &r.dq[row * D];
        auto visit = [&](const double* kj, const double* vj, double* dkj, double* dvj) {
          double s = 0, dp = 0;
          for (int64_t x = 0; x < D; ++x) s += qi[x] * kj[x];
          for (int64_t x = 0; x < Dv; ++x) dp += gi[x] * vj[x];
          const double pj = std::exp(s * p.scale - r.lse[row]);
          const double ds = pj * (dp - delta);
          for (int64_t x = 0; x < D; ++x) {
            dqi[x] += p.scale * ds * kj[x];
            dkj[x] += p.scale * ds * qi[x];
          }
          for (int64_t x = 0; x < Dv; ++x) dvj[x] += pj * gi[x];
        };
        for (int64_t j : win[i]) {
          const int64_t kr = (b * N + j) * Hk + hk;
          visit(&k.x[kr * D], &v.x[kr * Dv], &r.dk[kr * D], &r.dv[kr * Dv]);
        }
        for (int64_t e = 0; e < E; ++e) {
          const int64_t kr = (b * E + e) * Hk + hk;
          visit(&ek.x[kr * D], &ev.x[kr * Dv], &r.dek[kr * D], &r.dev[kr * Dv]);
        }
      }
    }
  });
}

// ---- device -----------------------------------------------------------------------------------------

static DeviceCaps device_desc() {
  int dev = 0;
  CK(cudaGetDevice(&dev));
  return device_caps(dev);
}

struct DeviceBuf {
  void* p = nullptr;
  size_t bytes = 0;
  explicit DeviceBuf(size_t n) : bytes(n) {
    if (n) CK(cudaMalloc(&p, n));
  }
  ~DeviceBuf() {
    if (p) cudaFree(p);
  }
  DeviceBuf(const DeviceBuf&) = delete;
  DeviceBuf& operator=(const DeviceBuf&) = delete;
};

static void upload(DeviceBuf& d, const void* src) {
  if (d.bytes) CK(cudaMemcpy(d.p, src, d.bytes, cudaMemcpyHostToDevice));
}

struct DeviceProblem {
  DeviceBuf q, k, v, o, dout, lse, ek, ev, dq, dk, dv, dek, dev;
  DeviceProblem(const NaProblem& p, int es)
      : q(p.batch * p.tokens() * p.heads * p.head_dim * es),
        k(p.batch * p.tokens() * p.heads_kv * p.head_dim * es),
        v(p.batch * p.tokens() * p.heads_kv * p.head_dim_v * es),
        o(p.batch * p.tokens() * p.heads * p.head_dim_v * es),
        dout(p.batch * p.tokens() * p.heads * p.head_dim_v * es),
        lse(p.batch * p.tokens() * p.heads * 4),
        ek(p.batch * p.n_extra * p.heads_kv * p.head_dim * es),
        ev(p.batch * p.n_extra * p.heads_kv * p.head_dim_v * es),
        dq(q.bytes),
        dk(k.bytes),
        dv(v.bytes),
        dek(ek.bytes),
        dev(ev.bytes) {}
  FusedBackwardArgs args() const {
    FusedBackwardArgs a;
    a.q = q.p;
    a.k = k.p;
    a.v = v.p;
    a.extra_k = ek.p;
    a.extra_v = ev.p;
    a.out = o.p;
    a.lse = static_cast<const float*>(lse.p);
    a.d_out = dout.p;
    a.dq = dq.p;
    a.dk = dk.p;
    a.dv = dv.p;
    a.d_extra_k = dek.p;
    a.d_extra_v = dev.p;
    return a;
  }
  void poison() {
    for (DeviceBuf* b : {&dq, &dk, &dv, &dek, &dev})
      if (b->bytes) CK(cudaMemset(b->p, 0xff, b->bytes));  // NaN in fp16 and bf16
  }
};

/// Runs the backward once; returns the plan used.
static BackwardPlan run_once(const Case& c, DeviceProblem& d, const FusedConfig& cfg, cudaStream_t s) {
  const DeviceCaps dev = device_desc();
  const BackwardPlan plan = plan_backward(c.p, c.t, cfg, dev);
  DeviceBuf ws(plan.workspace_bytes());
  run_backward(c.p, c.t, d.args(), plan, ws.p, s);
  CK(cudaStreamSynchronize(s));
  CK(cudaGetLastError());
  return plan;
}

static std::vector<uint16_t> download(const DeviceBuf& b) {
  std::vector<uint16_t> h(b.bytes / 2);
  if (b.bytes) CK(cudaMemcpy(h.data(), b.p, b.bytes, cudaMemcpyDeviceToHost));
  return h;
}

/// max |gpu - ref| / max(max |ref|, 1e-3): NaN (unwritten) gives +inf.
static double rel_error(const std::vector<uint16_t>& g, const std::vector<double>& ref, DType t) {
  double num = 0, den = 1e-3;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double x = load_element(g.data(), t, i);
    if (!std::isfinite(x)) return INFINITY;
    num = std::max(num, std::fabs(x - ref[i]));
    den = std::max(den, std::fabs(ref[i]));
  }
  return num / den;
}

struct CaseResult {
  double err_kv[5], err_det[5];
  bool bitwise;
  bool ok;
};

static CaseResult check_case(const Case& c, cudaStream_t s, bool verbose) {
  const NaProblem& p = c.p;
  std::mt19937_64 rng(c.seed);
  const int64_t N = p.tokens();
  HostTensor q = random_tensor(p.batch * N * p.heads * p.head_dim, c.t, rng, 1.0);
  HostTensor k = random_tensor(p.batch * N * p.heads_kv * p.head_dim, c.t, rng, 1.0);
  HostTensor v = random_tensor(p.batch * N * p.heads_kv * p.head_dim_v, c.t, rng, 1.0);
  HostTensor ek = random_tensor(p.batch * p.n_extra * p.heads_kv * p.head_dim, c.t, rng, 1.0);
  HostTensor ev = random_tensor(p.batch * p.n_extra * p.heads_kv * p.head_dim_v, c.t, rng, 1.0);
  HostTensor dout = random_tensor(p.batch * N * p.heads * p.head_dim_v, c.t, rng, 0.05);
  Reference ref;
  HostTensor o;
  reference(c, q, k, v, ek, ev, dout, ref, o);
  std::vector<float> lse(ref.lse.begin(), ref.lse.end());

  DeviceProblem d(p, 2);
  upload(d.q, q.h.data());
  upload(d.k, k.h.data());
  upload(d.v, v.h.data());
  upload(d.ek, ek.h.data());
  upload(d.ev, ev.h.data());
  upload(d.o, o.h.data());
  upload(d.dout, dout.h.data());
  upload(d.lse, lse.data());

  FusedConfig cfg;
  for (int a = 0; a < kMaxDims; ++a) {
    cfg.backward_q_tile[a] = a < p.dims ? c.tiles.q[a] : 0;
    cfg.backward_kv_tile[a] = a < p.dims ? c.tiles.kv[a] : 0;
  }
  CaseResult r{};
  auto errors = [&](double(&e)[5]) {
    e[0] = rel_error(download(d.dq), ref.dq, c.t);
    e[1] = rel_error(download(d.dk), ref.dk, c.t);
    e[2] = rel_error(download(d.dv), ref.dv, c.t);
    e[3] = p.n_extra ? rel_error(download(d.dek), ref.dek, c.t) : 0;
    e[4] = p.n_extra ? rel_error(download(d.dev), ref.dev, c.t) : 0;
  };
  // KV-parallel (atomics)
  d.poison();
  cfg.kv_parallel = true;
  cfg.deterministic = false;
  const BackwardPlan plan_kv = run_once(c, d, cfg, s);
  errors(r.err_kv);
  // deterministic, twice: bitwise equal
  cfg.deterministic = true;
  d.poison();
  const BackwardPlan plan_det = run_once(c, d, cfg, s);
  errors(r.err_det);
  std::vector<std::vector<uint16_t>> first = {download(d.dq), download(d.dk), download(d.dv), download(d.dek),
                                              download(d.dev)};
  d.poison();
  run_once(c, d, cfg, s);
  std::vector<std::vector<uint16_t>> second = {download(d.dq), download(d.dk), download(d.dv), download(d.dek),
                                               download(d.dev)};
  r.bitwise = first == second;
  const double tol = c.t == DType::BFloat16 ? 3e-2 : 8e-3;
  r.ok = r.bitwise && plan_kv.dq_atomics && !plan_det.dq_atomics;
  for (int i = 0; i < 5; ++i) r.ok = r.ok && r.err_kv[i] <= tol && r.err_det[i] <= tol;
  if (verbose || !r.ok)
    printf(
        "%s %s | kv dq %.2e dk %.2e dv %.2e dek %.2e dev %.2e | det dq %.2e dk %.2e dv %.2e dek %.2e dev %.2e | "
        "bitwise %d\n",
        r.ok ? "ok  " : "FAIL", describe(c).c_str(), r.err_kv[0], r.err_kv[1], r.err_kv[2], r.err_kv[3], r.err_kv[4],
        r.err_det[0], r.err_det[1], r.err_det[2], r.err_det[3], r.err_det[4], (int)r.bitwise);
  return r;
}

// ---- random problems ----------------------------------------------------------------------------------

static Case random_case(std::mt19937_64& rng, int index) {
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Case c;
  NaProblem& p = c.p;
  p.dims = 1 + index % 3;
  const int maxlen[4] = {0, 160, 30, 11};
  for (int a = 0; a < p.dims; ++a) {
    int k = uni(2, p.dims == 1 ? 33 : (p.dims == 2 ? 9 : 5));
    int d = uni(0, 3) == 0 ? uni(2, 3) : 1;
    int L = std::max(k * d, uni(k * d, std::max(k * d, maxlen[p.dims])));
    if (uni(0, 9) == 0) {  // dense axis
      d = 1;
      L = k;
    }
    p.length[a] = L;
    p.kernel[a] = k;
    p.dilation[a] = d;
    p.stride[a] = uni(0, 2) == 0 ? uni(1, k) : 1;
    p.causal[a] = uni(0, 3) == 0;
  }
  p.batch = uni(1, 2);
  const int hkv_opts[] = {1, 2};
  p.heads_kv = hkv_opts[uni(0, 1)];
  p.heads = p.heads_kv * uni(1, 3);
  const int dims_opts[] = {8, 16, 24, 32, 40, 48, 64, 64, 72, 96, 128, 128};
  p.head_dim = dims_opts[uni(0, 11)];
  p.head_dim_v = uni(0, 4) == 0 ? dims_opts[uni(0, 11)] : p.head_dim;
  const int extra_opts[] = {0, 0, 0, 0, 1, 7, 64, 70};
  p.n_extra = extra_opts[uni(0, 7)];
  p.scale = (float)(1.0 / std::sqrt((double)p.head_dim));
  c.t = uni(0, 1) ? DType::BFloat16 : DType::Float16;
  const auto configs = backward_tile_configs(p.dims, head_dim_tier(p.head_dim, p.head_dim_v, kBackwardMaxHeadDimTier));
  c.tiles = configs[(size_t)index / 3 % configs.size()];
  c.seed = rng();
  return c;
}

static int run_sweep(int cases, uint64_t seed) {
  cudaStream_t s;
  CK(cudaStreamCreate(&s));
  std::mt19937_64 rng(seed);
  int fails = 0;
  double worst_kv = 0, worst_det = 0;
  for (int i = 0; i < cases; ++i) {
    const Case c = random_case(rng, i);
    const CaseResult r = check_case(c, s, false);
    fails += !r.ok;
    if ((i + 1) % 50 == 0) {
      printf("  ... %d cases, %d failed\n", i + 1, fails);
      fflush(stdout);
    }
    for (int j = 0; j < 5; ++j) {
      worst_kv = std::max(worst_kv, r.err_kv[j]);
      worst_det = std::max(worst_det, r.err_det[j]);
    }
  }
  printf("sweep: %d cases, %d failed; worst rel error kv-parallel %.3e deterministic %.3e\n", cases, fails, worst_kv,
         worst_det);
  return fails;
}

static Case make_case(int dims, std::vector<int> L, std::vector<int> k, std::vector<int> s, std::vector<int> d,
                      std::vector<int> causal, int B, int H, int Hkv, int D, int E, DType t) {
  Case c;
  NaProblem& p = c.p;
  p.dims = dims;
  for (int a = 0; a < dims; ++a) {
    p.length[a] = L[a];
    p.kernel[a] = k[a];
    p.stride[a] = s[a];
    p.dilation[a] = d[a];
    p.causal[a] = causal[a];
  }
  p.batch = B;
  p.heads = H;
  p.heads_kv = Hkv;
  p.head_dim = p.head_dim_v = D;
  p.n_extra = E;
  p.scale = (float)(1.0 / std::sqrt((double)D));
  c.t = t;
  c.tiles = backward_tiles(select_backward(p, t, FusedConfig{}, device_desc()));
  return c;
}

static int run_small() {
  cudaStream_t s;
  CK(cudaStreamCreate(&s));
  std::vector<Case> cs = {
      make_case(2, {13, 11}, {5, 4}, {2, 1}, {2, 1}, {0, 1}, 1, 2, 1, 64, 3, DType::BFloat16),
      make_case(1, {70}, {9}, {1}, {3}, {1}, 2, 2, 2, 32, 0, DType::Float16),
      make_case(3, {6, 7, 9}, {3, 2, 4}, {1, 2, 1}, {1, 1, 2}, {0, 0, 1}, 1, 2, 2, 128, 65, DType::BFloat16),
  };
  int fails = 0;
  for (const Case& c : cs) fails += !check_case(c, s, true).ok;
  return fails;
}

// ---- timing -------------------------------------------------------------------------------------------

static double median_ms(const std::function<void()>& fn, cudaStream_t s, int reps) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) fn();
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) {
    CK(cudaEventRecord(a, s));
    fn();
    CK(cudaEventRecord(b, s));
    CK(cudaEventSynchronize(b));
    float ms;
    CK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

static void fill_random_device(DeviceBuf& b, DType t, uint64_t seed, double scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<uint16_t> h(b.bytes / 2);
  for (auto& x : h) {
    store_element(&x, t, 0, nd(rng) * scale);
  }
  upload(b, h.data());
}

static void run_bench(const char* only) {
  cudaStream_t s;
  CK(cudaStreamCreate(&s));
  const DeviceCaps dev = device_desc();
  struct B {
    const char* name;
    Case c;
  };
  std::vector<B> list = {
      {"1d_L32768_k2049_D128", make_case(1, {32768}, {2049}, {1}, {1}, {0}, 1, 16, 16, 128, 0, DType::BFloat16)},
      {"2d_128x128_k13_D64",
       make_case(2, {128, 128}, {13, 13}, {1, 1}, {1, 1}, {0, 0}, 4, 16, 16, 64, 0, DType::BFloat16)},
      {"2d_128x128_k31_D128",
       make_case(2, {128, 128}, {31, 31}, {1, 1}, {1, 1}, {0, 0}, 2, 16, 16, 128, 0, DType::BFloat16)},
      {"2d_56x56_k7_D32", make_case(2, {56, 56}, {7, 7}, {1, 1}, {1, 1}, {0, 0}, 64, 4, 4, 32, 0, DType::BFloat16)},
      {"3d_16x32x32_k5x9x9_D64",
       make_case(3, {16, 32, 32}, {5, 9, 9}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, 1, 16, 16, 64, 0, DType::BFloat16)},
  };
  for (auto& bc : list) {
    if (only && !strstr(bc.name, only)) continue;
    const NaProblem& p = bc.c.p;
    DeviceProblem d(p, 2);
    fill_random_device(d.q, bc.c.t, 1, 1.0);
    fill_random_device(d.k, bc.c.t, 2, 1.0);
    fill_random_device(d.v, bc.c.t, 3, 1.0);
    fill_random_device(d.o, bc.c.t, 4, 0.3);
    fill_random_device(d.dout, bc.c.t, 5, 0.05);
    {  // a plausible LSE: log of the window size plus a little
      std::vector<float> l(d.lse.bytes / 4, (float)std::log((double)p.window_size()) + 0.5f);
      upload(d.lse, l.data());
    }
    const double flops = 4.0 * p.batch * p.heads * p.tokens() * (double)p.window_size() * p.head_dim * 2.5;
    const int tier = backward_configs().head_dim_tier(p.head_dim, p.head_dim_v);
    auto configs = backward_tile_configs(p.dims, tier);
    const BackwardTileConfig dflt = backward_tiles(select_backward(p, bc.c.t, FusedConfig{}, dev));
    printf("%s: default q%s kv%s, tile pairs %.3g\n", bc.name, shape_text(dflt.q, p.dims).c_str(),
           shape_text(dflt.kv, p.dims).c_str(), backward_tile_pairs(p, dflt.q, dflt.kv));
    for (const auto& tc : configs) {
      const bool is_default = memcmp(&tc, &dflt, sizeof tc) == 0;
      if (!is_default && !getenv("ALL_CONFIGS")) continue;
      const char* modes = getenv("BENCH_MODES");  // "kv", "det" or unset (both)
      for (int mode = 0; mode < 2; ++mode) {
        if (modes && strcmp(modes, mode ? "det" : "kv") != 0) continue;
        FusedConfig cfg;
        for (int a = 0; a < p.dims; ++a) {
          cfg.backward_q_tile[a] = tc.q[a];
          cfg.backward_kv_tile[a] = tc.kv[a];
        }
        cfg.deterministic = mode == 1;
        const BackwardPlan plan = plan_backward(p, bc.c.t, cfg, dev);
        DeviceBuf ws(plan.workspace_bytes());
        const FusedBackwardArgs args = d.args();
        const double ms = median_ms([&] { run_backward(p, bc.c.t, args, plan, ws.p, s); }, s, 15);
        CK(cudaGetLastError());
        printf("  %-14s q%-10s kv%-10s %9.3f ms  %7.1f TFLOP/s useful\n", mode ? "deterministic" : "kv-parallel",
               shape_text(tc.q, p.dims).c_str(), shape_text(tc.kv, p.dims).c_str(), ms, flops / ms * 1e-9);
        fflush(stdout);
      }
    }
  }
}

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "sweep";
  if (mode == "cases") {  // print the sweep's problems (no GPU needed)
    std::mt19937_64 rng(argc > 3 ? strtoull(argv[3], nullptr, 10) : 12345);
    const int n = argc > 2 ? atoi(argv[2]) : 10;
    for (int i = 0; i < n; ++i) printf("%d %s\n", i, describe(random_case(rng, i)).c_str());
    return 0;
  }
  const DeviceCaps caps = device_caps(0);
  printf("device: %s (sm_%d%d, %d SMs)\n", device_name(0).c_str(), caps.cc_major, caps.cc_minor, caps.sm_count);
  if (mode == "sweep") {
    const int cases = argc > 2 ? atoi(argv[2]) : 300;
    const uint64_t seed = argc > 3 ? strtoull(argv[3], nullptr, 10) : 12345;
    return run_sweep(cases, seed) ? 1 : 0;
  }
  if (mode == "small") return run_small() ? 1 : 0;
  if (mode == "bench") {
    run_bench(argc > 2 ? argv[2] : nullptr);
    return 0;
  }
  fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
