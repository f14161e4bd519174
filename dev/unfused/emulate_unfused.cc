// Host emulation of the tiled unfused kernels (window_dot, window_reduce, window_reduce_inverse): the
// kernel code compiles as host C++ and each CTA runs with one std::thread per CUDA thread and a real
// barrier for __syncthreads(). Random problems (1/2/3-D, dilation, stride, causal, even/odd k, large
// kernels that need window blocks, odd channel counts) are checked against brute-force sums over the
// windows of window.h, with the tile plans the launchers would pick for an H100 and for a 99 KiB GPU.
// float, half and bfloat16 instantiations. Catches index and coverage bugs without a GPU:  bash
// dev/unfused/run.sh
#include <cuda_runtime.h>

#include <barrier>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#define __launch_bounds__(...)

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
const dim3 blockDim(256);

namespace {
std::barrier<>* g_barrier = nullptr;
}
void __syncthreads() { g_barrier->arrive_and_wait(); }
// CUDA's integer min/max builtins.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }

#include "../../kernels/unfused/window_dot_kernel.cuh"
#include "../../kernels/unfused/window_reduce_inverse_kernel.cuh"
#include "../../kernels/unfused/window_reduce_kernel.cuh"

namespace natten::unfused::dot_kernel {
float4 smem4[1 << 16];
}
namespace natten::unfused::reduce_kernel {
float4 smem4[1 << 16];
}
namespace natten::unfused::inverse_kernel {
float4 smem4[1 << 16];
}

using namespace natten;

template <typename T>
T to_t(float v);
template <>
float to_t<float>(float v) {
  return v;
}
template <>
__half to_t<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__nv_bfloat16 to_t<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
inline float to_f(float v) { return v; }
inline float to_f(__half v) { return __half2float(v); }
inline float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
/// Relative tolerance of a result rounded to T.
template <typename T>
double tol() {
  return sizeof(T) == 4 ? 1e-3 : std::is_same_v<T, __half> ? 4e-3 : 2e-2;
}

/// Runs `ctas` CTAs of `threads` threads, one CTA at a time.
void emulate(int64_t ctas, int threads, const std::function<void()>& body) {
  for (int64_t b = 0; b < ctas; ++b) {
    std::barrier<> bar(threads);
    g_barrier = &bar;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        threadIdx = {(unsigned)t, 0, 0};
        blockIdx = {(unsigned)b, 0, 0};
        body();
      });
    for (auto& th : pool) th.join();
  }
}

struct Case {
  NaProblem p;  // three-axis view
  int64_t channels;
};

/// Window position numbering and key of query x at position (p0, p1, p2); false if masked.
bool key_of(const NaProblem& p, const int x[3], const int pos[3], int key[3]) {
  for (int a = 0; a < 3; ++a) {
    const int g = x[a] % p.dilation[a];
    const Range w = cuda::group_window(p, a, g, x[a] / p.dilation[a]);
    if (w.start + pos[a] >= w.end) return false;
    key[a] = (w.start + pos[a]) * p.dilation[a] + g;
  }
  return true;
}

Case random_case(std::mt19937& rng) {
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  NaProblem p;
  p.dims = uni(1, 3);
  p.batch = uni(1, 2);
  p.heads = uni(1, 2);
  p.heads_kv = p.heads;
  const bool big = uni(0, 4) == 0;
  for (int a = 0; a < p.dims; ++a) {
    const int maxL = p.dims == 1 ? (big ? 400 : 60) : p.dims == 2 ? (big ? 40 : 14) : 8;
    const int L = uni(2, maxL);
    int d = uni(0, 2) == 0 ? uni(1, std::max(1, L / 2)) : 1;
    int k = uni(2, std::max(2, std::min(L / d, big ? 300 : 13)));
    if (k * d > L) d = std::max(1, L / k);
    if (k > L) k = L;
    p.length[a] = L;
    p.kernel[a] = k;
    p.dilation[a] = d;
    p.stride[a] = uni(0, 2) == 0 ? uni(1, k) : 1;
    p.causal[a] = uni(0, 3) == 0;
  }
  p.head_dim = p.head_dim_v = 1;
  Case c{cuda::as_3d(p), (int64_t)(uni(0, 3) == 0 ? uni(1, 140) : std::vector<int>{8, 16, 32, 64}[uni(0, 3)])};
  return c;
}

template <typename T>
int check_dot(const Case& c, const unfused::DeviceLimits& dev, std::mt19937& rng) {
  using namespace unfused::dot_kernel;
  const NaProblem& p = c.p;
  const int64_t n = p.tokens(), K = p.window_size(), bh = p.batch * p.heads, C = c.channels;
  const int64_t cols = K + 1;  // one spare column: must stay untouched
  std::normal_distribution<float> nd;
  std::vector<T> x(bh * n * C), y(bh * n * C), attn(bh * n * cols, to_t<T>(12345.f));
  for (auto& v : x) v = to_t<T>(nd(rng));
  for (auto& v : y) v = to_t<T>(nd(rng));
  const DotPlan plan = choose_plan(p, C, dev.smem_optin, unfused::two_ctas_per_sm(dev));
  emulate(plan.grid.ctas, kThreads, [&] {
    window_dot_kernel<T>(p, plan, C, x.data(), y.data(), nullptr, -INFINITY, attn.data(), cols,
                         unfused::rows_vectorizable(x.data(), C) && unfused::rows_vectorizable(y.data(), C));
  });
  int bad = 0;
  for (int64_t r = 0; r < bh; ++r)
    for (int64_t t = 0; t < n; ++t) {
      int xq[3];
      cuda::coords_of(p, t, xq);
      for (int64_t w = 0; w < K; ++w) {
        const int pos[3] = {(int)(w / (p.kernel[1] * p.kernel[2])), (int)(w / p.kernel[2] % p.kernel[1]),
                            (int)(w % p.kernel[2])};
        int key[3];
        double ref = -INFINITY;
        if (key_of(p, xq, pos, key)) {
          const int64_t kt = cuda::token_of(p, key[0], key[1], key[2]);
          ref = 0;
          for (int64_t ch = 0; ch < C; ++ch)
            ref += (double)to_f(x[(r * n + t) * C + ch]) * to_f(y[(r * n + kt) * C + ch]);
        }
        const float got = to_f(attn[(r * n + t) * cols + w]);
        const bool ok = std::isinf(ref) ? got == -INFINITY : std::fabs(got - ref) <= tol<T>() * (1 + std::fabs(ref));
        if (!ok && bad++ < 3)
          std::printf("    dot mismatch bh %ld q %ld w %ld: %g vs %g\n", (long)r, (long)t, (long)w, got, ref);
      }
      if (to_f(attn[(r * n + t) * cols + K]) != to_f(to_t<T>(12345.f)) && bad++ < 3)
        std::printf("    dot wrote past the window columns\n");
    }
  return bad;
}

template <typename T>
int check_reduce(const Case& c, const unfused::DeviceLimits& dev, std::mt19937& rng, bool inverse) {
  const NaProblem& p = c.p;
  const int64_t n = p.tokens(), K = p.window_size(), bh = p.batch * p.heads, C = c.channels;
  const int64_t cols = K;
  std::normal_distribution<float> nd;
  std::vector<T> a(bh * n * cols), x(bh * n * C), out(bh * n * C, to_t<T>(NAN));
  std::vector<double> ref(bh * n * C, 0.0);
  for (auto& v : a) v = to_t<T>(nd(rng));
  for (auto& v : x) v = to_t<T>(nd(rng));
  for (int64_t r = 0; r < bh; ++r)
    for (int64_t t = 0; t < n; ++t) {
      int xq[3];
      cuda::coords_of(p, t, xq);
      for (int64_t w = 0; w < K; ++w) {
        const int pos[3] = {(int)(w / (p.kernel[1] * p.kernel[2])), (int)(w / p.kernel[2] % p.kernel[1]),
                            (int)(w % p.kernel[2])};
        int key[3];
        if (!key_of(p, xq, pos, key)) {
          a[(r * n + t) * cols + w] = to_t<T>(NAN);  // masked weights must be ignored
          continue;
        }
        const int64_t kt = cuda::token_of(p, key[0], key[1], key[2]);
        const double wt = to_f(a[(r * n + t) * cols + w]);
        for (int64_t ch = 0; ch < C; ++ch) {
          if (inverse) ref[(r * n + kt) * C + ch] += wt * to_f(x[(r * n + t) * C + ch]);
          else ref[(r * n + t) * C + ch] += wt * to_f(x[(r * n + kt) * C + ch]);
        }
      }
    }
  if (inverse) {
    using namespace unfused::inverse_kernel;
    const InversePlan plan = choose_plan(p, C, dev.smem_optin, unfused::two_ctas_per_sm(dev));
    emulate(plan.grid.ctas, kThreads, [&] {
      window_reduce_inverse_kernel<T>(p, plan, C, a.data(), cols, x.data(), out.data(),
                                      unfused::rows_vectorizable(x.data(), C));
    });
  } else {
    using namespace unfused::reduce_kernel;
    const ReducePlan plan = choose_plan(p, C, dev.smem_optin, unfused::two_ctas_per_sm(dev));
    emulate(plan.grid.ctas, kThreads, [&] {
      window_reduce_kernel<T>(p, plan, C, a.data(), cols, x.data(), nullptr, out.data(),
                              unfused::rows_vectorizable(x.data(), C));
    });
  }
  int bad = 0;
  for (size_t i = 0; i < out.size(); ++i)
    if (!(std::fabs(to_f(out[i]) - ref[i]) <= tol<T>() * (1 + std::fabs(ref[i]))) && bad++ < 3)
      std::printf("    %s mismatch at %zu: %g vs %g\n", inverse ? "inverse" : "reduce", i, to_f(out[i]), ref[i]);
  return bad;
}

/// Prints the plans the launchers pick for the benchmark problems (H100 limits).
void print_plans() {
  struct B {
    const char* name;
    int dims, batch, heads, D;
    int L[3], k[3];
  };
  const B list[] = {{"1-D L32768 k2049 D128", 1, 1, 16, 128, {32768}, {2049}},
                    {"2-D 128x128 k13 D64", 2, 4, 16, 64, {128, 128}, {13, 13}},
                    {"2-D 128x128 k31 D128", 2, 2, 16, 128, {128, 128}, {31, 31}},
                    {"2-D 56x56 k7 D32", 2, 64, 4, 32, {56, 56}, {7, 7}},
                    {"3-D 16x32x32 k(5,9,9) D64", 3, 1, 16, 64, {16, 32, 32}, {5, 9, 9}}};
  const unfused::DeviceLimits dev{227 * 1024};
  for (const B& b : list) {
    NaProblem q;
    q.dims = b.dims;
    q.batch = b.batch;
    q.heads = q.heads_kv = b.heads;
    q.head_dim = q.head_dim_v = b.D;
    for (int a = 0; a < b.dims; ++a) q.length[a] = b.L[a], q.kernel[a] = b.k[a];
    const NaProblem p = cuda::as_3d(q);
    const auto d = unfused::dot_kernel::choose_plan(p, b.D, dev.smem_optin, unfused::two_ctas_per_sm(dev));
    const auto r = unfused::reduce_kernel::choose_plan(p, b.D, dev.smem_optin, unfused::two_ctas_per_sm(dev));
    const auto v = unfused::inverse_kernel::choose_plan(p, b.D, dev.smem_optin, unfused::two_ctas_per_sm(dev));
    std::printf(
        "%s\n  dot: tile 2^[%d,%d,%d] split %d block %d (%d blocks) rows %d chunks %d items %d smem %d ctas %ld\n",
        b.name, d.grid.tile_log2[0], d.grid.tile_log2[1], d.grid.tile_log2[2], d.blocks.split_axis, d.blocks.block,
        d.blocks.count, d.rows, d.chunks, d.qgroups * d.rows * d.chunks, d.smem, (long)d.grid.ctas);
    std::printf("  reduce: tile 2^[%d,%d,%d] cg 2^%d split %d block %d (%d blocks) smem %d ctas %ld\n",
                r.grid.tile_log2[0], r.grid.tile_log2[1], r.grid.tile_log2[2], r.cg_log2, r.blocks.split_axis,
                r.blocks.block, r.blocks.count, r.smem, (long)r.grid.ctas);
    std::printf("  inverse: tile 2^[%d,%d,%d] cg 2^%d qblock 2^[%d,%d,%d] smem %d ctas %ld\n", v.grid.tile_log2[0],
                v.grid.tile_log2[1], v.grid.tile_log2[2], v.cg_log2, v.qb_log2[0], v.qb_log2[1], v.qb_log2[2], v.smem,
                (long)v.grid.ctas);
  }
}

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--plans") {
    print_plans();
    return 0;
  }
  const int cases = argc > 1 ? std::atoi(argv[1]) : 60;
  std::mt19937 rng(argc > 2 ? std::atoi(argv[2]) : 1);
  const unfused::DeviceLimits devs[2] = {{227 * 1024}, {99 * 1024}};
  int failed = 0;
  for (int i = 0; i < cases; ++i) {
    const Case c = random_case(rng);
    const auto& p = c.p;
    std::printf("case %d: L=[%d,%d,%d] k=[%d,%d,%d] s=[%d,%d,%d] d=[%d,%d,%d] causal=[%d,%d,%d] BH=%ld C=%ld\n", i,
                p.length[0], p.length[1], p.length[2], p.kernel[0], p.kernel[1], p.kernel[2], p.stride[0], p.stride[1],
                p.stride[2], p.dilation[0], p.dilation[1], p.dilation[2], p.causal[0], p.causal[1], p.causal[2],
                (long)(p.batch * p.heads), (long)c.channels);
    std::fflush(stdout);
    const auto& dev = devs[i % 2];
    int bad = 0;
    switch (i % 3) {
      case 0:
        bad = check_dot<float>(c, dev, rng) + check_reduce<float>(c, dev, rng, false) +
              check_reduce<float>(c, dev, rng, true);
        break;
      case 1:
        bad = check_dot<__half>(c, dev, rng) + check_reduce<__half>(c, dev, rng, false) +
              check_reduce<__half>(c, dev, rng, true);
        break;
      default:
        bad = check_dot<__nv_bfloat16>(c, dev, rng) + check_reduce<__nv_bfloat16>(c, dev, rng, false) +
              check_reduce<__nv_bfloat16>(c, dev, rng, true);
    }
    if (bad) {
      std::printf("  FAILED (%d mismatches)\n", bad);
      ++failed;
    }
  }
  std::printf("%d of %d cases failed\n", failed, cases);
  return failed ? 1 : 0;
}
