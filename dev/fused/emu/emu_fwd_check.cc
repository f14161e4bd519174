// Runs the fused-forward kernels on the CPU through cuda_emu.h, every compiled config of a family: mma.sync
// (forward_kernel.cuh, NATTEN_FORWARD_CONFIGS_*D, kernel arch 80), sm_90a wgmma (the same kernel,
// NATTEN_FORWARD_WGMMA_CONFIGS_*D, arch 90) or sm_90a warp-specialised 'wgmma-ws' (forward_ws_kernel.cuh,
// NATTEN_FORWARD_WS_CONFIGS_*D, arch 91: TMA loads, or the cp.async fallback on dilated problems), on random
// small problems (1/2/3-D, dilation, stride, causal, GQA, extra keys, Dv != D, negative scales, fp16/bf16;
// windows wider than a Q tile plus a KV tile, for the unmasked path; every other case with one key in 16 scaled by
// 8, so row maxima jump mid-walk) against an fp64 reference: O within
// tolerance, LSE within 1e-3, and output rows the kernel must write all written (outputs start poisoned).
// Build with emu_build.sh.
// mma-union: the 2-D window-union kernel (forward_union_kernel.cuh, NATTEN_FORWARD_UNION_CONFIGS_2D) on
// problems whose Q tiles' unions fit its capacity (drawn again until they do).
//   emu_fwd_check CASES SEED [mma|wgmma|wgmma-ws|wgmma-ws-strip|wgmma-ws-plane|mma-union]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include "cuda_emu.h"
#include "emu_reference.h"
#include "forward_entries.h"
#include "forward_kernel.cuh"
#include "forward_union_kernel.cuh"
#include "forward_ws_kernel.cuh"

namespace natten::fused {
// The kernel's `extern __shared__ uint4 smem[]` (block-scope extern), the CTA's dynamic shared memory.
alignas(1024) uint4 smem[232 * 1024 / 16];
// The 'wgmma-ws' kernel's `extern __shared__ uint8_t ws_smem[]`.
alignas(1024) uint8_t ws_smem[232 * 1024];
}  // namespace natten::fused

using namespace natten;
using namespace natten::fused;
using namespace natten::emu_ref;

/// One compiled forward config and its launchers per dtype.
struct FwdConfig {
  int dims, q[3], kv[3], tier, stages, arch;
  void (*run_bf16)(const NaProblem&, const FusedForwardArgs&);
  void (*run_f16)(const NaProblem&, const FusedForwardArgs&);
};

/// launch_forward's (forward_launch.cuh) grid and parameters, with the emulated launch.
template <class QTile, class KVTile, int DT, int Stages, int Arch, class Tag>
static void run_forward(const NaProblem& p, const FusedForwardArgs& a) {
  using Tr = ForwardTraits<QTile, KVTile, DT, Stages, Arch>;
  const ForwardParams prm = forward_params(p, a);
  const int q_ext[3] = {QTile::ext(0), QTile::ext(1), QTile::ext(2)};
  emu::launch((unsigned)grid_slots(p, q_ext), (unsigned)p.heads, (unsigned)p.batch, Tr::kThreads,
              reinterpret_cast<unsigned char*>(smem),
              [&] { na_forward_kernel<QTile, KVTile, DT, Stages, Arch, Tag>(prm); });
}

/// launch_forward_union's (forward_union_launch.cuh) grid and parameters, with the emulated launch.
template <class QTile, int Cap0, int Cap1, int DT, int Split, class Tag>
static void run_forward_union(const NaProblem& p, const FusedForwardArgs& a) {
  const ForwardParams prm = forward_params(p, a);
  const int q_ext[3] = {QTile::ext(0), QTile::ext(1), QTile::ext(2)};
  emu::launch((unsigned)grid_slots(p, q_ext), (unsigned)p.heads, (unsigned)p.batch,
              UnionTraits<QTile, Cap0, Cap1, DT, Split>::kThreads, reinterpret_cast<unsigned char*>(smem),
              [&] { na_forward_union_kernel<QTile, Cap0, Cap1, DT, Split, Tag>(prm); });
}

/// Whether the last 'wgmma-ws' launch loaded through TMA (else the cp.async fallback).
static bool g_last_ws_tma = false;
static int g_ws_tma_launches = 0, g_ws_cp_async_launches = 0;
/// Persistent 'wgmma-ws' CTAs per launch (0: one per work item), from EMU_WS_CTAS.
static const int g_ws_ctas = getenv("EMU_WS_CTAS") ? atoi(getenv("EMU_WS_CTAS")) : 0;

/// launch_forward_ws's (forward_ws_launch.cuh) grid and parameters, with the emulated launch.
template <class QTile, class KVTile, int DT, int Stages, int Arch, class Tag>
static void run_forward_ws(const NaProblem& p, const FusedForwardArgs& a) {
  using Tr = WsTraits<QTile, KVTile, DT, Stages>;
  const WsParams prm = ws_params<QTile, KVTile, DT, Stages, Tag>(p, a);
  g_last_ws_tma = prm.use_tma != 0;
  ++(g_last_ws_tma ? g_ws_tma_launches : g_ws_cp_async_launches);
  // One CTA per work item, or (EMU_WS_CTAS=n) n persistent CTAs walking them all.
  const int64_t ctas = g_ws_ctas > 0 && g_ws_ctas < prm.n_items ? g_ws_ctas : prm.n_items;
  emu::launch((unsigned)ctas, 1u, 1u, Tr::kThreads, ws_smem,
              [&] { na_forward_ws_kernel<QTile, KVTile, DT, Stages, Tag>(prm); });
}

/// One X(...) line of a config list as a FwdConfig: KVT names the KV tile's template (TileShape for the mma.sync
/// and wgmma kernels, RasterBox for 'wgmma-ws', whose 3-D plane tiles are no whole number of micro boxes).
#define EMU_FWD_CONFIG_RUN(RUN, ARCH, KVT, D, QX, QY, QZ, KX, KY, KZ, DT, ST)       \
  FwdConfig{D,                                                                      \
            {QX, QY, QZ},                                                           \
            {KX, KY, KZ},                                                           \
            DT,                                                                     \
            ST,                                                                     \
            ARCH,                                                                   \
            &RUN<TileShape<D, QX, QY, QZ>, KVT<D, KX, KY, KZ>, DT, ST, ARCH, BF16>, \
            &RUN<TileShape<D, QX, QY, QZ>, KVT<D, KX, KY, KZ>, DT, ST, ARCH, F16>},
#define EMU_FWD_MMA(...) EMU_FWD_CONFIG_RUN(run_forward, 80, TileShape, __VA_ARGS__)
#define EMU_FWD_WGMMA(...) EMU_FWD_CONFIG_RUN(run_forward, 90, TileShape, __VA_ARGS__)
#define EMU_FWD_WS(...) EMU_FWD_CONFIG_RUN(run_forward_ws, kWgmmaWsArch, RasterBox, __VA_ARGS__)
#define EMU_FWD_WS_STRIP(D, QX, QY, QZ, N, DT, ST)                                             \
  FwdConfig{D,                                                                                 \
            {QX, QY, QZ},                                                                      \
            {1, N, 1},                                                                         \
            DT,                                                                                \
            ST,                                                                                \
            kWgmmaWsArch,                                                                      \
            &run_forward_ws<TileShape<D, QX, QY, QZ>, KvStrip<N>, DT, ST, kWgmmaWsArch, BF16>, \
            &run_forward_ws<TileShape<D, QX, QY, QZ>, KvStrip<N>, DT, ST, kWgmmaWsArch, F16>},

/// Window-union configs carry arch 80 and stages 1 (the only stage-1 mma.sync configs).
#define EMU_FWD_UNION(D, QX, QY, CX, CY, DT, SPLIT)                               \
  FwdConfig{D,                                                                    \
            {QX, QY, 1},                                                          \
            {CX, CY, 1},                                                          \
            DT,                                                                   \
            1,                                                                    \
            80,                                                                   \
            &run_forward_union<TileShape<D, QX, QY, 1>, CX, CY, DT, SPLIT, BF16>, \
            &run_forward_union<TileShape<D, QX, QY, 1>, CX, CY, DT, SPLIT, F16>},

static const std::vector<FwdConfig>& configs() {
  static const std::vector<FwdConfig> all = {
      NATTEN_FORWARD_CONFIGS_1D(EMU_FWD_MMA) NATTEN_FORWARD_CONFIGS_2D(EMU_FWD_MMA)
          NATTEN_FORWARD_CONFIGS_3D(EMU_FWD_MMA) NATTEN_FORWARD_WGMMA_CONFIGS_1D(EMU_FWD_WGMMA)
              NATTEN_FORWARD_WGMMA_CONFIGS_2D(EMU_FWD_WGMMA) NATTEN_FORWARD_WGMMA_CONFIGS_3D(EMU_FWD_WGMMA)
                  NATTEN_FORWARD_WS_CONFIGS_1D(EMU_FWD_WS) NATTEN_FORWARD_WS_CONFIGS_2D(EMU_FWD_WS)
                      NATTEN_FORWARD_WS_STRIP_CONFIGS_2D(EMU_FWD_WS_STRIP) NATTEN_FORWARD_WS_CONFIGS_3D(EMU_FWD_WS)
                          NATTEN_FORWARD_UNION_CONFIGS_2D(EMU_FWD_UNION)};
  return all;
}

static const char* family_name(int arch) { return arch == kWgmmaWsArch ? "wgmma-ws" : arch == 90 ? "wgmma" : "mma"; }

static std::string shape(const int* t, int dims) {
  std::string s;
  for (int a = 0; a < dims; ++a) s += (a ? "x" : "") + std::to_string(t[a]);
  return s;
}

/// Scales one in 16 rows of `b` (rows of `len` elements) by 8.
static void spike(Buf& b, int64_t len, bool bf, std::mt19937_64& rng) {
  const DType dt = bf ? DType::BFloat16 : DType::Float16;
  for (size_t row = 0; row * len < b.x.size(); ++row) {
    if (rng() % 16 != 0) continue;
    for (size_t i = row * len; i < (row + 1) * len; ++i) {
      store_element(&b.h[i], dt, 0, b.x[i] * 8.0);
      b.x[i] = load_element(&b.h[i], dt, 0);
    }
  }
}

static bool check(const NaProblem& p, bool bf, const FwdConfig& cfg, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int64_t N = p.tokens(), B = p.batch, H = p.heads, Hk = p.heads_kv, D = p.head_dim, Dv = p.head_dim_v,
                E = p.n_extra;
  const Buf q = rnd(B * N * H * D, bf, rng, 1), v = rnd(B * N * Hk * Dv, bf, rng, 1);
  // Every other case has spiked keys (one in 16 scaled by 8): a row's max then jumps by several units of log2
  // mid-walk, so the online softmax's rescale of O runs on large factors, not only on the small steps of
  // random scores.
  Buf k = rnd(B * N * Hk * D, bf, rng, 1);
  if (seed & 1) spike(k, D, bf, rng);
  const Buf ek = rnd(B * E * Hk * D, bf, rng, 1), ev = rnd(B * E * Hk * Dv, bf, rng, 1);
  std::vector<std::vector<int64_t>> win(N);
  for (int64_t i = 0; i < N; ++i) win[i] = window_keys(p, i);
  std::vector<double> o, lse;
  reference_forward(p, win, q, k, v, ek, ev, o, lse);

  if (getenv("EMU_TRACE")) {  // the case before its launch (a hang names its case)
    fprintf(stderr, "case: %dD", p.dims);
    for (int a2 = 0; a2 < p.dims; ++a2)
      fprintf(stderr, " [L%lld k%d s%d d%d%s]", (long long)p.length[a2], p.kernel[a2], p.stride[a2], p.dilation[a2],
              p.causal[a2] ? " c" : "");
    fprintf(stderr, " E%lld D%lld/%lld q%s kv%s tier %d\n", (long long)E, (long long)D, (long long)Dv,
            shape(cfg.q, p.dims).c_str(), shape(cfg.kv, p.dims).c_str(), cfg.tier);
  }
  std::vector<uint16_t> out(o.size(), 0x7fff);  // NaN in both dtypes: a row left unwritten fails
  std::vector<float> lse_out(lse.size(), NAN);
  FusedForwardArgs a;
  a.q = q.h.data();
  a.k = k.h.data();
  a.v = v.h.data();
  a.extra_k = E ? ek.h.data() : nullptr;
  a.extra_v = E ? ev.h.data() : nullptr;
  a.out = out.data();
  a.lse = lse_out.data();
  (bf ? cfg.run_bf16 : cfg.run_f16)(p, a);

  const double e_o = scaled_err(out, o, bf);
  double e_lse = 0;
  for (size_t i = 0; i < lse.size(); ++i)
    e_lse = std::max(e_lse, std::isfinite(lse_out[i]) ? std::fabs(lse_out[i] - lse[i]) : INFINITY);
  const bool ok = e_o <= (bf ? 3e-2 : 1e-2) && e_lse <= 1e-3;
  std::string ax;
  for (int a2 = 0; a2 < p.dims; ++a2)
    ax += "L" + std::to_string(p.length[a2]) + " k" + std::to_string(p.kernel[a2]) + " s" +
          std::to_string(p.stride[a2]) + " d" + std::to_string(p.dilation[a2]) + (p.causal[a2] ? " c" : "") +
          (a2 + 1 < p.dims ? " | " : "");
  const char* loads = cfg.arch != kWgmmaWsArch ? "" : g_last_ws_tma ? " tma" : " cp.async";
  printf(
      "%s %s %dD [%s] B%lld H%lld/%lld D%lld/%lld E%lld scale %.3g %s%s q%s kv%s tier %d stages %d | o %.1e lse %.1e\n",
      ok ? "ok  " : "FAIL", bf ? "bf16" : "fp16", p.dims, ax.c_str(), (long long)B, (long long)H, (long long)Hk,
      (long long)D, (long long)Dv, (long long)E, p.scale, family_name(cfg.arch), loads, shape(cfg.q, p.dims).c_str(),
      shape(cfg.kv, p.dims).c_str(), cfg.tier, cfg.stages, e_o, e_lse);
  fflush(stdout);
  return ok;
}

int main(int argc, char** argv) {
  const int cases = argc > 1 ? atoi(argv[1]) : 20;
  std::mt19937_64 rng(argc > 2 ? strtoull(argv[2], nullptr, 10) : 7);
  const std::string family = argc > 3 ? argv[3] : "mma";
  // wgmma-ws-strip: the 2-D strip configs of 'wgmma-ws' alone (every case 2-D).
  const bool strips_only = family == "wgmma-ws-strip";
  // wgmma-ws-plane: the 3-D plane configs of 'wgmma-ws' alone (KV tiles one axis-0 plane; every case 3-D).
  const bool planes_only = family == "wgmma-ws-plane";
  const bool union_only = family == "mma-union";
  if (family != "mma" && family != "wgmma" && family != "wgmma-ws" && !strips_only && !planes_only && !union_only) {
    fprintf(stderr, "usage: emu_fwd_check CASES SEED [mma|wgmma|wgmma-ws|wgmma-ws-strip|wgmma-ws-plane|mma-union]\n");
    return 2;
  }
  const int arch = family == "wgmma-ws" || strips_only || planes_only ? kWgmmaWsArch : family == "wgmma" ? 90 : 80;
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int fails = 0;
  for (int i = 0; i < cases; ++i) {
    NaProblem p;
    p.dims = strips_only || union_only ? 2 : planes_only ? 3 : 1 + i % 3;
    // Every other round of three (one problem per rank) has wide windows: KV tiles inside every window of
    // a Q tile.
    draw_window_axes(p, rng, !union_only && (i / 3) % 2 == 1, 200);
    if (strips_only && i % 3 == 2) {
      // Axis-1 window unions wider than a 64-key strip (one row segment per tile): short, wide images.
      const int k = uni(58, 90), d = uni(0, 3) == 0 ? 2 : 1;
      p.length[0] = uni(3, 12);
      p.kernel[0] = std::min(p.kernel[0], p.length[0]);
      p.dilation[0] = 1;
      p.stride[0] = std::min(p.stride[0], p.kernel[0]);
      p.length[1] = uni(k * d, k * d + 40);
      p.kernel[1] = k;
      p.dilation[1] = d;
      p.stride[1] = uni(0, 2) == 0 ? uni(1, k) : 1;
    }
    if (union_only && i % 2 == 1) {
      // Windows of 10-13: the 20x20 unions.
      for (int a = 0; a < 2; ++a) {
        const int k = uni(10, 13);
        p.kernel[a] = k;
        p.dilation[a] = uni(0, 3) == 0 ? 2 : 1;
        p.length[a] = uni(k * p.dilation[a], k * p.dilation[a] + 24);
        // Strides up to the window too: k11 s6 or k10 s7 give micro-box unions of 17-18 keys per row (the
        // row-major fallback of panel lists) in tile unions that fit 20.
        p.stride[a] = uni(0, 2) == 0 ? uni(2, k) : 1;
      }
    }
    p.batch = uni(1, 2);
    p.heads_kv = uni(1, 2);
    p.heads = p.heads_kv * uni(1, 2);
    const int dims_opts[] = {8, 24, 32, 40, 64, 72, 128, 192};
    const int lo = arch == 80 ? 0 : 3, hi = arch == 80 ? 7 : 6;  // wgmma, wgmma-ws: head-dim tiers 64 and 128
    p.head_dim = dims_opts[uni(lo, hi)];
    p.head_dim_v = uni(0, 4) == 0 ? dims_opts[uni(lo, hi)] : p.head_dim;
    const int extra_opts[] = {0, 0, 3, 70};
    p.n_extra = extra_opts[uni(0, 3)];
    p.scale = (float)((uni(0, 5) == 0 ? -1.0 : 1.0) / std::sqrt((double)p.head_dim));
    const int tier = head_dim_tier(p.head_dim, p.head_dim_v, kForwardMaxHeadDimTier);
    std::vector<const FwdConfig*> fit;
    for (const FwdConfig& c : configs())
      if (c.dims == p.dims && c.tier == tier && c.arch == arch && (!(strips_only || planes_only) || c.kv[0] == 1) &&
          (c.stages == 1) == union_only &&
          (!union_only ||
           (max_tile_kv_extent(p.axis(0), c.q[0]) <= c.kv[0] && max_tile_kv_extent(p.axis(1), c.q[1]) <= c.kv[1])))
        fit.push_back(&c);
    if (fit.empty()) {
      --i;  // no config of this family at this tier (wgmma: none at 32; a union too wide): draw again
      continue;
    }
    const FwdConfig& cfg = *fit[(size_t)uni(0, (int)fit.size() - 1)];
    fails += !check(p, uni(0, 1) == 1, cfg, rng());
  }
  printf("emulated forward: %d cases, %d failed, %s", cases, fails, family.c_str());
  if (arch == kWgmmaWsArch)
    printf(" (TMA launches %d, cp.async launches %d)", g_ws_tma_launches, g_ws_cp_async_launches);
  printf("\n");
  return fails ? 1 : 0;
}
