// The forward's cost heuristic (ForwardConfigs::cost) and what it rests on: a host replay of one
// representative CTA's tile walk per kernel family (simulate_cta: the mma.sync / wgmma kernels' per-warp
// micro tiles; simulate_ws_cta: the 'wgmma-ws' kernels' 64-query halves), the family rates, and the CTAs
// resident per SM.
#include <stdint.h>
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <utility>

#include "../../common/tile_shape.h"
#include "../../common/tile_window.h"
#include "../../runtime/cuda_check.h"
#include "forward.h"
#include "forward_ws_strip.h"

namespace natten::fused {
namespace {

/// Work of one representative CTA (the Q tile nearest the middle of dilation group 0 on every axis),
/// replaying the kernel's tile walk and per-warp micro-tile classification on the host.
struct CtaWork {
  double computed_keys = 0;  // keys through QK/softmax/PV, summed over the CTA's queries (per micro tile)
  double masked_keys = 0;    // of which in masked (partial) micro tiles
  double loaded_keys = 0;    // keys loaded into shared memory
  int tiles = 0;             // KV tiles walked, additional keys included ('wgmma-ws' model)
};

/// The representative CTA's place and walk per axis: the Q tile nearest the middle of dilation group 0, and
/// the KV tiles covering its window box.
struct CtaBox {
  GroupAxis ax[3];
  int q0[3] = {0, 0, 0};    // group-local origin of the Q tile
  int lo[3] = {0, 0, 0};    // first key of the walk
  int n_kv[3] = {1, 1, 1};  // KV tiles of the walk
  int tiles = 1;            // their product

  /// kv: the KV tile extents per axis (the entry's, or a strip config's shape for p).
  CtaBox(const ForwardEntry& e, const NaProblem& p, const int (&kv)[kMaxDims]) {
    for (int a = 0; a < p.dims; ++a) {
      ax[a] = group_axis(p.axis(a), 0);
      q0[a] = std::max(0, (ax[a].lg / 2) / e.q_tile[a] * e.q_tile[a]);
      const Range r = tile_kv_range(ax[a], q0[a], e.q_tile[a]);
      lo[a] = r.start;
      n_kv[a] = ceil_div(r.end - r.start, kv[a]);
      tiles *= n_kv[a];
    }
  }
};

CtaWork simulate_cta(const ForwardEntry& e, const NaProblem& p) {
  const int dims = p.dims;
  const int micro[3] = {micro_extent(dims, 0), micro_extent(dims, 1), micro_extent(dims, 2)};
  const double micro_tokens = kMicroTokens;  // query rows of a warp, keys of a KV micro tile
  const CtaBox box(e, p, e.kv_tile);
  const GroupAxis(&ax)[3] = box.ax;
  const int(&q0)[3] = box.q0;
  const int(&lo)[3] = box.lo;
  const int(&n_kv)[3] = box.n_kv;
  int warp_grid[3], kv_grid[3];
  int warps = 1, groups = 1;
  const int tiles = box.tiles;
  for (int a = 0; a < 3; ++a) {
    warp_grid[a] = a < dims ? e.q_tile[a] / micro[a] : 1;
    kv_grid[a] = a < dims ? e.kv_tile[a] / micro[a] : 1;
    warps *= warp_grid[a];
    groups *= kv_grid[a];
  }
  const bool wgmma = e.arch >= 90;  // computes every micro tile, masking those outside the windows
  CtaWork w;
  w.loaded_keys = double(tiles) * groups * micro_tokens + double(p.n_extra);
  for (int wi = 0; wi < warps; ++wi) {
    Range first[3], last[3];
    bool empty = false;
    int rem = wi;
    int wc[3];
    for (int a = 2; a >= 0; --a) wc[a] = rem % warp_grid[a], rem /= warp_grid[a];
    for (int a = 0; a < dims; ++a) {
      const int f = q0[a] + wc[a] * micro[a];
      const int l = std::min(f + micro[a], ax[a].lg) - 1;
      if (l < f) empty = true;
      first[a] = ax[a].window(f);
      last[a] = ax[a].window(std::max(l, f));
    }
    if (empty) continue;
    for (int t = 0; t < tiles; ++t) {
      int tc[3] = {0, 0, 0}, r = t;
      for (int a = dims - 1; a >= 0; --a) tc[a] = r % n_kv[a], r /= n_kv[a];
      for (int j = 0; j < groups; ++j) {
        int gc[3], rj = j;
        for (int a = 2; a >= 0; --a) gc[a] = rj % kv_grid[a], rj /= kv_grid[a];
        bool overlap = true, inside = true;
        for (int a = 0; a < dims; ++a) {
          const int g0 = lo[a] + tc[a] * e.kv_tile[a] + gc[a] * micro[a];
          const int g1 = g0 + micro[a];
          overlap = overlap && g0 < last[a].end && g1 > first[a].start;
          inside = inside && last[a].start <= g0 && first[a].end >= g1;
        }
        if (overlap || wgmma) w.computed_keys += micro_tokens * micro_tokens;
        if ((overlap || wgmma) && !inside) w.masked_keys += micro_tokens * micro_tokens;
      }
    }
    w.computed_keys += micro_tokens * double(p.n_extra);
  }
  return w;
}

/// The same for a 'wgmma-ws' CTA (forward_ws_*.cuh): two 64-query halves along axis 0, each computing every
/// key of the KV tiles whose axis-0 rows meet its windows and masking a whole tile (every element) unless the
/// tile is interior for all of the half's queries (forward_ws_mask.cuh). A strip config (forward_ws_strip.h)
/// walks its launch's strip shape and masks every tile.
CtaWork simulate_ws_cta(const ForwardEntry& e, const NaProblem& p) {
  const int dims = p.dims;
  const bool strips = is_ws_strip(e);
  int kv[kMaxDims] = {e.kv_tile[0], e.kv_tile[1], e.kv_tile[2]};
  if (strips) {
    const StripShape st = ws_strip_shape(p, e.q_tile[0], e.q_tile[1], e.kv_tile[1]);
    kv[0] = st.rows;
    kv[1] = st.cols;
  }
  const CtaBox box(e, p, kv);
  const GroupAxis(&ax)[3] = box.ax;
  const int(&q0)[3] = box.q0;
  const int(&lo)[3] = box.lo;
  const int(&n_kv)[3] = box.n_kv;
  const int kv_size = e.kv_tile[0] * e.kv_tile[1] * e.kv_tile[2];  // computed keys per tile (a strip's N)
  const int q_size = e.q_tile[0] * e.q_tile[1] * e.q_tile[2];
  const int half_rows = q_size / 2;
  CtaWork w;
  w.loaded_keys = double(box.tiles) * kv_size + double(p.n_extra);
  for (int half = 0; half < 2; ++half) {
    Range first[3], last[3];
    bool empty = false;
    for (int a = 0; a < dims; ++a) {
      const int ext = a == 0 ? e.q_tile[0] / 2 : e.q_tile[a];
      const int f = q0[a] + (a == 0 ? half * ext : 0);
      const int l = std::min(f + ext, ax[a].lg) - 1;
      if (l < f) empty = true;
      first[a] = ax[a].window(f);
      last[a] = ax[a].window(std::max(l, f));
    }
    if (empty) continue;
    for (int t = 0; t < box.tiles; ++t) {
      int rest = t;
      bool inside = true;
      bool live = true;
      for (int a = dims - 1; a >= 0; --a) {
        const int g0 = lo[a] + (rest % n_kv[a]) * kv[a];
        rest /= n_kv[a];
        inside = inside && !strips && last[a].start <= g0 && first[a].end >= g0 + kv[a];
        if (a == 0) live = g0 < last[0].end && g0 + kv[0] > first[0].start;
      }
      if (!live) continue;
      w.computed_keys += double(half_rows) * kv_size;
      if (!inside) w.masked_keys += double(half_rows) * kv_size;
    }
    w.computed_keys += double(half_rows) * double(p.n_extra);
  }
  w.tiles = box.tiles + ceil_div(static_cast<int>(std::min<int64_t>(p.n_extra, 1 << 30)), kv_size);
  return w;
}

/// The same for a window-union CTA (forward_union_kernel.cuh): it loads the tile's union once, and each warp
/// computes its own 16 queries' union box (a key list padded to 16 keys; a panel list pads every union row to
/// 16 keys), masking every element.
CtaWork simulate_union_cta(const ForwardEntry& e, const NaProblem& p) {
  const int micro[2] = {micro_extent(2, 0), micro_extent(2, 1)};
  GroupAxis ax[2];
  int q0[2];
  double box_keys = 1;
  for (int a = 0; a < 2; ++a) {
    ax[a] = group_axis(p.axis(a), 0);
    q0[a] = std::max(0, (ax[a].lg / 2) / e.q_tile[a] * e.q_tile[a]);
    const Range r = tile_kv_range(ax[a], q0[a], e.q_tile[a]);
    box_keys *= r.end - r.start;
  }
  CtaWork w;
  w.loaded_keys = box_keys + double(p.n_extra);
  for (int w0 = 0; w0 < e.q_tile[0]; w0 += micro[0])
    for (int w1 = 0; w1 < e.q_tile[1]; w1 += micro[1]) {
      const int f[2] = {q0[0] + w0, q0[1] + w1};
      if (f[0] >= ax[0].lg || f[1] >= ax[1].lg) continue;
      int width[2];
      for (int a = 0; a < 2; ++a) {
        const int l = std::min(f[a] + micro[a], ax[a].lg) - 1;
        width[a] = ax[a].window(l).end - ax[a].window(f[a]).start;
      }
      // Panel lists (caps wider than a panel) list one panel per union row where a row fits one, in whole
      // 64-key chunks.
      const bool panel = e.kv_tile[1] > kUnionPanelKeys && width[1] <= kUnionPanelKeys;
      const double keys = double(width[0]) * (panel ? kUnionPanelKeys : width[1]);
      const double pad = panel ? kUnionListChunkKeys : 16.0;
      const double list = pad * std::ceil(keys / pad) + 16.0 * std::ceil(double(p.n_extra) / 16.0);
      w.computed_keys += kMicroTokens * list;
      w.masked_keys += kMicroTokens * list;
    }
  return w;
}

}  // namespace

int resident_ctas(const ForwardEntry& e, const DeviceCaps& caps) {
  // wgmma-ws CTAs take the whole register file (384 threads x 168 registers): one per SM whatever the smem.
  if (caps.device < 0 && e.arch == kWgmmaWsArch) return 1;
  if (caps.device < 0) return std::max(1, (caps.smem_optin > 0 ? caps.smem_optin : 100 * 1024) / e.smem_bytes);
  static std::mutex mutex;
  static std::map<std::pair<const ForwardEntry*, int>, int> cache;
  std::lock_guard<std::mutex> lock(mutex);
  const auto key = std::make_pair(&e, caps.device);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  int n = 0;
  NATTEN_CUDA_CHECK(cudaSetDevice(caps.device));
  NATTEN_CUDA_CHECK(cudaFuncSetAttribute(e.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, e.smem_bytes));
  NATTEN_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, e.kernel, e.threads, e.smem_bytes));
  cache[key] = std::max(1, n);
  return std::max(1, n);
}

// The default heuristic. Cost = (tensor-core + softmax work per query) + (shared-memory fill per query),
// replayed exactly for one representative CTA (simulate_cta), times the wave-quantisation loss:
//   per_query = (computed + 0.3 * masked + 0.25 * loaded) / |Q tile|
//   waves     = ceil(ctas / (SMs * resident)), resident = CTAs per SM by the occupancy calculator
//   eff       = min(1, resident warps per SM / 12) * (0.9 for 8-warp CTAs)
//   cost      = per_query * total queries * waves / (ctas / (SMs * resident)) / eff
// so big tiles win only where they save K/V traffic without costing occupancy, small tiles on small
// windows (less halo) and on small grids (more CTAs to fill the GPU). 'wgmma-ws' entries replace per_query by
// their own model (per_query_work below). Configs that do not fit the device's shared
// memory are not candidates (runs_on).
// Tensor-core rate of a kernel family relative to mma.sync on the same work: wgmma 2.5x (H200
// measurements, bench/NOTES.md).
static double family_speed(int arch) { return arch >= 90 ? 2.5 : 1.0; }
// The window-union kernel's rate on the same work, relative to the mma.sync tile walk: no KV tile loop (one
// load, one barrier, no per-tile waits and bookkeeping). Fitted to H200 timings of six small-window 2-D
// problems (k3-k9, D32 and D64, bench/NOTES.md "Window-union forward"), where it runs in 0.47-0.77x the time of
// the fastest tile-walk kernel: 1.5 picks it on all six.
constexpr double kUnionSpeed = 1.5;

// The 'wgmma-ws' model, fitted to H200 timings of its 8 configs on the four sm_90a benchmark problems in
// wgmma cost units (bench/NOTES.md, "wgmma-ws"): a faster rate on the tensor cores, but a fixed cost per KV
// tile (barriers, turn-taking, softmax bookkeeping) and per CTA (one CTA per SM: the Q load, the first K/V
// latency and the epilogue are not hidden behind another CTA), and whole-tile masks. So it wins on large
// windows (1-D k2049: 1.6x wgmma, 2-D k31: 1.5x) and, with its plane configs, on 3-D k(5,9,9) (1.2x), and loses
// on small 2-D ones (k13).
constexpr double kWsSpeed = 7.8;         // relative to mma.sync
constexpr double kWsMaskWeight = 0.45;   // per masked key, relative to a computed one (1-D, row tiles)
constexpr double kWsMaskWeight3d = 0.8;  // 3-D boxes: three axis bitmaps tested per element (3-D KV 4x4x4 ran
                                         // 1.3x slower than the 2-D-fitted model predicted)
constexpr double kWsTileKeys = 38;       // fixed cost of a KV tile, in keys per query
constexpr double kWsCtaKeys = 1120;      // fixed cost of a CTA, in keys per query
// The model is fitted on four problems; off them (small windows, small grids, where the shared-memory-only
// occupancy estimate of a described device misjudges the other families) it is trusted only when it
// predicts wgmma-ws at least 1.2x cheaper than the best of the others.
constexpr double kWsMargin = 1.2;

/// Per-query work of entry e on problem p in mma.sync key units (the cost model's numerator).
static double per_query_work(const ForwardEntry& e, const NaProblem& p) {
  const int q_size = e.q_tile[0] * e.q_tile[1] * e.q_tile[2];
  if (e.arch == kWgmmaWsArch) {
    const CtaWork w = simulate_ws_cta(e, p);
    // Row tiles (2-D boxes, 3-D plane tiles: forward_ws_mask.cuh) mask with one word per row; 3-D boxes test
    // three axis bitmaps per element.
    const bool row_tiles = p.dims == 2 || e.kv_tile[0] == 1;
    const double mask_weight = row_tiles ? kWsMaskWeight : kWsMaskWeight3d;
    return ((w.computed_keys + mask_weight * w.masked_keys + 0.25 * w.loaded_keys) / q_size + kWsTileKeys * w.tiles +
            kWsCtaKeys) /
           kWsSpeed;
  }
  const CtaWork w = e.window_union ? simulate_union_cta(e, p) : simulate_cta(e, p);
  const double speed = e.window_union ? kUnionSpeed : family_speed(e.arch);
  return (w.computed_keys + 0.3 * w.masked_keys + 0.25 * w.loaded_keys) / q_size / speed;
}

double forward_ctas(const ForwardEntry& e, const NaProblem& p) {
  int ext[kMaxDims] = {e.q_tile[0], e.q_tile[1], e.q_tile[2]};
  return double(grid_slots(p, ext)) * double(p.batch) * double(p.heads);
}

double ForwardConfigs::cost(const ForwardEntry& e, const NaProblem& p, const DeviceCaps& caps) const {
  const double per_query = per_query_work(e, p);
  const double ctas = forward_ctas(e, p);
  const double slots = double(std::max(1, caps.sm_count)) * resident_ctas(e, caps);
  const double waves = std::ceil(ctas / slots);
  const double fill = (ctas / slots) / waves;
  // Latency hiding: the kernels are latency-bound below ~12 resident warps per SM (H200 measurements,
  // bench/NOTES.md), and 8-warp CTAs lose ~10% to their wider barriers.
  const int warps = e.threads / 32;
  const double resident_warps = double(warps) * resident_ctas(e, caps);
  const double eff = e.arch >= 90 ? 1.0 : std::min(1.0, resident_warps / 12.0) * (warps > 4 ? 0.9 : 1.0);
  const double margin = e.arch == kWgmmaWsArch ? kWsMargin : 1.0;
  return margin * per_query * double(p.tokens()) * double(p.batch) * double(p.heads) / (fill * eff);
}

}  // namespace natten::fused
