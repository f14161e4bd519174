// Runs the fused-backward kernels on the CPU through cuda_emu.h and checks dQ (KV-parallel atomics and the
// deterministic Q-parallel pass), dK, dV and the extra-KV gradients against an fp64 reference on random
// small problems (every other one with windows wider than a KV tile plus a Q tile). Build with emu_build.sh.
//   emu_check CASES SEED                         the mma.sync main kernel (fna_backward_kv.h) and dQ kernel
//   emu_check CASES SEED wgmma [tma] [persistent CTAS]
//                                                the sm_90a wgmma main pass (fna_backward_wgmma_kernel.cuh)
//                                                through sm90_wgmma.h / sm90_ws.h's emulation, with the TMA
//                                                loads and / or persistent CTAs (at most CTAS) switched on;
//                                                the deterministic run's dK / dV must equal the KV-parallel
//                                                run's bit for bit
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "cuda_emu.h"
#include "emu_reference.h"
#include "fna_backward_configs.h"
#include "fna_backward_dq.h"
#include "fna_backward_kv.h"
#include "fna_backward_wgmma_kernel.cuh"

namespace natten::fused {
alignas(16) unsigned char smem_raw[256 * 1024];
alignas(1024) unsigned char bwd_wg_smem[232 * 1024];  // the wgmma kernels' dynamic shared memory
}  // namespace natten::fused

// kernel_switches.h, set from the command line, which names every switch that is on: they start all off (the
// library's defaults, TMA loads on, do not apply here).
namespace natten::gpu {
static KernelSwitches g_switches = [] {
  KernelSwitches s;
  s.backward_tma = false;
  return s;
}();
static KernelSwitchLaunches g_launches;
KernelSwitches kernel_switches() { return g_switches; }
void set_kernel_switches(const KernelSwitches& s) { g_switches = s; }
KernelSwitchLaunches kernel_switch_launches() { return g_launches; }
void count_backward_tma_launch() { ++g_launches.backward_tma; }
void count_backward_persistent_launch() { ++g_launches.backward_persistent; }
}  // namespace natten::gpu

static bool g_wgmma = false;

using namespace natten;
using namespace natten::fused;
using namespace natten::emu_ref;

struct Case {
  NaProblem p;
  bool bf16 = true;
  BackwardTileConfig tiles{};
};

template <class Tag, int DMAX, int BQ>
static void run_kv(const BackwardParams& prm, int extra, unsigned gx) {
  const NaProblem& p = prm.p;
  emu::launch(gx, (unsigned)p.heads_kv, (unsigned)p.batch, kBwdThreads, smem_raw,
              [&] { fna_backward_kv_kernel<Tag, DMAX, BQ>(prm, extra); });
}
template <class Tag, int DMAX>
static void run_dq(const BackwardParams& prm, unsigned gx) {
  const NaProblem& p = prm.p;
  emu::launch(gx, (unsigned)p.heads, (unsigned)p.batch, kBwdThreads, smem_raw,
              [&] { fna_backward_dq_kernel<Tag, DMAX>(prm); });
}
template <class Tag>
static void run_kv_tier(const BackwardParams& prm, int tier, int extra, unsigned gx) {
  if (tier == 32) run_kv<Tag, 32, 64>(prm, extra, gx);
  else if (tier == 64) run_kv<Tag, 64, 64>(prm, extra, gx);
  else run_kv<Tag, 128, 32>(prm, extra, gx);
}
template <class Tag>
static void run_dq_tier(const BackwardParams& prm, int tier, unsigned gx) {
  if (tier == 32) run_dq<Tag, 32>(prm, gx);
  else if (tier == 64) run_dq<Tag, 64>(prm, gx);
  else run_dq<Tag, 128>(prm, gx);
}

/// The wgmma main pass over grid (gx, heads_kv, batch), plain or persistent as the switches say.
template <class Tag, int DT>
static void run_wgmma(const BackwardParams& prm, int extra, unsigned gx) {
  const NaProblem& p = prm.p;
  const BwdWgMaps maps =
      bwd_wg_prepare_maps(prm, std::is_same_v<Tag, BF16> ? DType::BFloat16 : DType::Float16, extra != 0);
  const gpu::KernelSwitches sw = gpu::kernel_switches();
  if (sw.backward_persistent) {
    const BwdWgSchedule sched = bwd_wg_schedule(dim3(gx, (unsigned)p.heads_kv, (unsigned)p.batch));
    gpu::count_backward_persistent_launch();
    emu::launch(gpu::persistent_launch_ctas(sched.tiles, 132, sw.persistent_ctas), 1, 1, kBwdWgThreads, bwd_wg_smem,
                [&] { fna_backward_wgmma_persistent_kernel<Tag, DT>(prm, extra, maps, sched); });
    return;
  }
  emu::launch(gx, (unsigned)p.heads_kv, (unsigned)p.batch, kBwdWgThreads, bwd_wg_smem,
              [&] { fna_backward_wgmma_kernel<Tag, DT>(prm, extra, maps); });
}
template <class Tag>
static void run_wgmma_tier(const BackwardParams& prm, int tier, int extra, unsigned gx) {
  if (tier == 64) run_wgmma<Tag, 64>(prm, extra, gx);
  else run_wgmma<Tag, 128>(prm, extra, gx);
}

static bool check(const Case& c, uint64_t seed, int stages) {
  const NaProblem& p = c.p;
  const bool bf = c.bf16;
  const DType dt = bf ? DType::BFloat16 : DType::Float16;
  std::mt19937_64 rng(seed);
  const int64_t N = p.tokens(), B = p.batch, H = p.heads, Hk = p.heads_kv, D = p.head_dim, Dv = p.head_dim_v,
                E = p.n_extra;
  Buf q = rnd(B * N * H * D, bf, rng, 1), k = rnd(B * N * Hk * D, bf, rng, 1), v = rnd(B * N * Hk * Dv, bf, rng, 1);
  Buf ek = rnd(B * E * Hk * D, bf, rng, 1), ev = rnd(B * E * Hk * Dv, bf, rng, 1),
      dO = rnd(B * N * H * Dv, bf, rng, 0.05);
  std::vector<std::vector<int64_t>> win(N);
  for (int64_t i = 0; i < N; ++i) win[i] = window_keys(p, i);
  // fp64 forward: O rounded to the dtype, LSE in fp32 (as the forward writes them)
  std::vector<double> lse, o;
  reference_forward(p, win, q, k, v, ek, ev, o, lse);
  for (double& x : lse) x = (float)x;
  std::vector<uint16_t> oh(o.size());
  std::vector<double> orr(o.size());
  for (size_t i = 0; i < o.size(); ++i) {
    store_element(&oh[i], dt, 0, o[i]);
    orr[i] = load_element(&oh[i], dt, 0);
  }
  // reference backward
  std::vector<double> rdq(B * N * H * D, 0), rdk(B * N * Hk * D, 0), rdv(B * N * Hk * Dv, 0), rdek(B * E * Hk * D, 0),
      rdev(B * E * Hk * Dv, 0);
  std::vector<float> delta(B * N * H);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < N; ++i)
      for (int64_t h = 0; h < H; ++h) {
        const int64_t row = (b * N + i) * H + h, hk = p.kv_head(h);
        double dl = 0;
        for (int x = 0; x < Dv; ++x) dl += dO.x[row * Dv + x] * orr[row * Dv + x];
        delta[row] = (float)dl;
        auto visit = [&](const double* kj, const double* vj, double* dkj, double* dvj) {
          double s = 0, dp = 0;
          for (int x = 0; x < D; ++x) s += q.x[row * D + x] * kj[x];
          for (int x = 0; x < Dv; ++x) dp += dO.x[row * Dv + x] * vj[x];
          const double pj = std::exp(s * p.scale - lse[row]), ds = pj * (dp - dl);
          for (int x = 0; x < D; ++x) {
            rdq[row * D + x] += p.scale * ds * kj[x];
            dkj[x] += p.scale * ds * q.x[row * D + x];
          }
          for (int x = 0; x < Dv; ++x) dvj[x] += pj * dO.x[row * Dv + x];
        };
        for (int64_t j : win[i]) {
          const int64_t r = (b * N + j) * Hk + hk;
          visit(&k.x[r * D], &v.x[r * Dv], &rdk[r * D], &rdv[r * Dv]);
        }
        for (int64_t e = 0; e < E; ++e) {
          const int64_t r = (b * E + e) * Hk + hk;
          visit(&ek.x[r * D], &ev.x[r * Dv], &rdek[r * D], &rdev[r * Dv]);
        }
      }

  // kernel parameters as fna_backward.cu's run_backward fills them
  const int tier = head_dim_tier(D, Dv, kBackwardMaxHeadDimTier);
  BackwardParams prm{};
  prm.p = p;
  for (int a = p.dims; a < kMaxDims; ++a) {
    prm.p.length[a] = prm.p.kernel[a] = prm.p.stride[a] = prm.p.dilation[a] = 1;
    prm.p.causal[a] = false;
  }
  prm.p.dims = kMaxDims;
  for (int a = 0; a < kMaxDims; ++a) {
    prm.q_tile[a] = a < p.dims ? c.tiles.q[a] : 1;
    prm.kv_tile[a] = a < p.dims ? c.tiles.kv[a] : 1;
  }
  std::vector<float> lsef(lse.begin(), lse.end());
  std::vector<uint16_t> dq(rdq.size(), 0xffff), dk(rdk.size(), 0xffff), dv(rdv.size(), 0xffff);
  std::vector<float> dq_acc(rdq.size(), 0.f);
  const int bq = g_wgmma ? kBwdWgQRows : backward_q_rows(tier);
  const int main_kv_rows = g_wgmma ? kBwdWgKvRows : kBwdKvRows;
  const int64_t chunks = (N + bq - 1) / bq;
  const int splits = (int)std::min<int64_t>(2, chunks);
  const int64_t cps = (chunks + splits - 1) / splits;
  const int real_splits = (int)((chunks + cps - 1) / cps);
  std::vector<float> pk(real_splits * rdek.size() + 1, NAN), pv(real_splits * rdev.size() + 1, NAN);
  prm.q = q.h.data();
  prm.k = k.h.data();
  prm.v = v.h.data();
  prm.d_out = dO.h.data();
  prm.extra_k = ek.h.data();
  prm.extra_v = ev.h.data();
  prm.lse = lsef.data();
  prm.delta = delta.data();
  prm.dq = dq.data();
  prm.dk = dk.data();
  prm.dv = dv.data();
  prm.dq_acc = dq_acc.data();
  prm.dk_extra_part = pk.data();
  prm.dv_extra_part = pv.data();
  prm.extra_splits = real_splits;
  prm.q_chunks_per_split = (int)cps;
  prm.dq_stages = stages;
  prm.scale = p.scale;
  prm.scale_log2 = p.scale * kLog2e;
  const unsigned slots = (unsigned)grid_slots(prm.p, prm.kv_tile);
  auto kv = [&](int extra, unsigned gx) {
    if (g_wgmma) {
      if (bf) run_wgmma_tier<BF16>(prm, tier, extra, gx);
      else run_wgmma_tier<F16>(prm, tier, extra, gx);
    } else if (bf) {
      run_kv_tier<BF16>(prm, tier, extra, gx);
    } else {
      run_kv_tier<F16>(prm, tier, extra, gx);
    }
  };
  auto main_pass = [&] {
    kv(0, slots);
    if (E > 0) kv(1, (unsigned)(((E + main_kv_rows - 1) / main_kv_rows) * real_splits));
  };
  main_pass();
  std::vector<uint16_t> dq_kv(rdq.size()), dek(rdek.size()), dev(rdev.size());
  for (size_t i = 0; i < dq_kv.size(); ++i) store_element(&dq_kv[i], dt, 0, (double)(dq_acc[i] * p.scale));
  for (size_t i = 0; i < dek.size(); ++i) {
    float s = 0;
    for (int sp = 0; sp < real_splits; ++sp) s += pk[sp * dek.size() + i];
    store_element(&dek[i], dt, 0, s);
  }
  for (size_t i = 0; i < dev.size(); ++i) {
    float s = 0;
    for (int sp = 0; sp < real_splits; ++sp) s += pv[sp * dev.size() + i];
    store_element(&dev[i], dt, 0, s);
  }
  // deterministic dQ pass (after the wgmma main pass once more without dQ: its dK / dV must not change)
  prm.dq_acc = nullptr;
  bool same_dkdv = true;
  BackwardParams dqp = prm;
  unsigned dq_slots = slots;
  if (g_wgmma) {
    const std::vector<uint16_t> dk1 = dk, dv1 = dv;
    std::fill(dk.begin(), dk.end(), 0xffff);
    std::fill(dv.begin(), dv.end(), 0xffff);
    main_pass();
    same_dkdv = dk == dk1 && dv == dv1;
    for (int a = 0; a < kMaxDims; ++a) dqp.kv_tile[a] = prm.q_tile[a];  // the dQ kernel's tile: the Q tile
    dq_slots = (unsigned)grid_slots(dqp.p, dqp.kv_tile);
  }
  if (bf) run_dq_tier<BF16>(dqp, tier, dq_slots);
  else run_dq_tier<F16>(dqp, tier, dq_slots);

  const double e_dqkv = scaled_err(dq_kv, rdq, bf), e_dq = scaled_err(dq, rdq, bf), e_dk = scaled_err(dk, rdk, bf),
               e_dv = scaled_err(dv, rdv, bf), e_dek = E ? scaled_err(dek, rdek, bf) : 0,
               e_dev = E ? scaled_err(dev, rdev, bf) : 0;
  const double tol = bf ? 3e-2 : 1e-2;
  const bool ok =
      e_dqkv <= tol && e_dq <= tol && e_dk <= tol && e_dv <= tol && e_dek <= tol && e_dev <= tol && same_dkdv;
  std::string ax;
  for (int a = 0; a < p.dims; ++a)
    ax += "L" + std::to_string(p.length[a]) + " k" + std::to_string(p.kernel[a]) + " s" + std::to_string(p.stride[a]) +
          " d" + std::to_string(p.dilation[a]) + (p.causal[a] ? " c" : "") + (a + 1 < p.dims ? " | " : "");
  printf(
      "%s %s %dD [%s] B%lld H%lld/%lld D%lld/%lld E%lld q%s kv%s stages %d | dq(kv) %.1e dq(det) %.1e dk %.1e dv %.1e "
      "dek %.1e dev %.1e%s\n",
      ok ? "ok  " : "FAIL", bf ? "bf16" : "fp16", p.dims, ax.c_str(), (long long)B, (long long)H, (long long)Hk,
      (long long)D, (long long)Dv, (long long)E, shape_text(c.tiles.q, p.dims).c_str(),
      shape_text(c.tiles.kv, p.dims).c_str(), stages, e_dqkv, e_dq, e_dk, e_dv, e_dek, e_dev,
      same_dkdv ? "" : " | dK/dV differ between the two main passes");
  fflush(stdout);
  return ok;
}

int main(int argc, char** argv) {
  const int cases = argc > 1 ? atoi(argv[1]) : 20;
  std::mt19937_64 rng(argc > 2 ? strtoull(argv[2], nullptr, 10) : 7);
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "wgmma") g_wgmma = true;
    else if (a == "tma") gpu::g_switches.backward_tma = true;
    else if (a == "persistent" && i + 1 < argc) {
      gpu::g_switches.backward_persistent = true;
      gpu::g_switches.persistent_ctas = atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: emu_check CASES SEED [wgmma [tma] [persistent CTAS]]\n");
      return 2;
    }
  }
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int fails = 0;
  for (int i = 0; i < cases; ++i) {
    Case c;
    NaProblem& p = c.p;
    p.dims = 1 + i % 3;
    // Every other case has wide windows: steps whose Q tile lies inside every window of the KV tile.
    draw_window_axes(p, rng, i % 2 == 1, g_wgmma ? 300 : 150);
    p.batch = g_wgmma ? uni(1, 2) : 1;  // batch 2: the 3-D TMA maps fold batch into axis 0
    p.heads_kv = uni(1, 2);
    p.heads = p.heads_kv * uni(1, 2);
    const int dims_opts[] = {8, 24, 32, 40, 64, 72, 128};
    const int lo = g_wgmma ? 3 : 0;  // the wgmma kernels: head-dim tiers 64 and 128
    p.head_dim = dims_opts[uni(lo, 6)];
    p.head_dim_v = uni(0, 4) == 0 ? dims_opts[uni(lo, 6)] : p.head_dim;
    const int extra_opts[] = {0, 0, 3, 70};
    p.n_extra = extra_opts[uni(0, 3)];
    p.scale = (float)(1.0 / std::sqrt((double)p.head_dim));
    c.bf16 = uni(0, 1);
    const int tier = head_dim_tier(p.head_dim, p.head_dim_v, kBackwardMaxHeadDimTier);
    const auto configs = g_wgmma ? backward_wgmma_tile_configs(p.dims, tier) : backward_tile_configs(p.dims, tier);
    c.tiles = configs[(size_t)uni(0, (int)configs.size() - 1)];
    fails += !check(c, rng(), i % 4 == 3 ? 1 : 2);
  }
  const gpu::KernelSwitchLaunches n = gpu::kernel_switch_launches();
  printf("emulated: %d cases, %d failed%s (TMA launches %llu, persistent launches %llu)\n", cases, fails,
         g_wgmma ? ", wgmma" : "", (unsigned long long)n.backward_tma, (unsigned long long)n.backward_persistent);
  return fails ? 1 : 0;
}
