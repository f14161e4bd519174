// The CPU engine's GEMM (docs/design.md §6 "Tensor ops"): C = op(A)·op(B) (+ bias), any storage dtype, fp32
// arithmetic (float64 in float64). Cache-blocked in the usual three levels: B is packed once into panels of
// NR columns ([panel][k][NR], zero-padded), each task packs a block of MC rows of A for KC of k at a time
// into MR-row micro-panels, and a register-blocked micro-kernel (MR x NR accumulators, written on
// vec.h's 16-lane vectors) walks them: the B micro-panel (KC x NR) stays in L1, the A block in L2.
// Tasks are (batch, row block, column block) tiles spread over the engine's threads; each accumulates its
// tile in fp32 and stores it once with the bias added and the output dtype's rounding.
#include <stdint.h>

#include <algorithm>
#include <vector>

#include "../../kernels/common/tensor_args.h"
#include "elem_io.h"
#include "engine.h"
#include "host_buffer.h"
#include "parallel.h"
#include "vec.h"

namespace natten::cpu::NATTEN_SIMD {
namespace {

#if defined(__AVX512F__)
// One 16-lane vector is one zmm register: 12 x 2 accumulators + 2 B vectors + a broadcast fit the 32.
constexpr int kNV = 2, kMR = 12;
#elif defined(__AVX__)
// A 16-lane vector is two ymm registers: 6 x 1 accumulators (12 ymm) + B + a broadcast fit 16.
constexpr int kNV = 1, kMR = 6;
#else
// A 16-lane vector is four xmm registers (the baseline level): 3 x 1 accumulators + B fit 16.
constexpr int kNV = 1, kMR = 3;
#endif
constexpr int kNR = kNV * kLanes;
constexpr int64_t kKC = 256;       // B micro-panel KC x NR x 4 bytes = 32 KiB with NR = 32: L1
constexpr int64_t kMC = kMR * 12;  // A block MC x KC x 4 bytes = 144 KiB: L2
constexpr int64_t kMaxNC = 512;    // columns of one task's C tile (MC x NC fp32: 288 KiB, with the A block in L2)

/// x broadcast to every lane, read straight from memory: on AVX-512 one load-port µop (a broadcast from a
/// register would take the shuffle port, which the FMAs need).
#if defined(__AVX512F__)
NATTEN_INLINE vf broadcast(const float* p) { return (vf)_mm512_set1_ps(*p); }
#else
NATTEN_INLINE vf broadcast(const float* p) { return vset(*p); }
#endif

/// acc(MR x NR) = (first ? 0 : C) + A_panel · B_panel over kc: a [kc][MR], b [kc][NR] (64-byte aligned),
/// c rows `ldc` floats apart (64-byte aligned).
NATTEN_INLINE void micro_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool first) {
  vf acc[kMR][kNV];
  for (int r = 0; r < kMR; ++r)
    for (int v = 0; v < kNV; ++v) acc[r][v] = first ? vzero() : vload(c + r * ldc + v * kLanes);
  for (int64_t p = 0; p < kc; ++p) {
    vf bv[kNV];
    for (int v = 0; v < kNV; ++v) bv[v] = vload(b + p * kNR + v * kLanes);
    for (int r = 0; r < kMR; ++r) {
      const vf av = broadcast(a + p * kMR + r);
      for (int v = 0; v < kNV; ++v) acc[r][v] = vfma(av, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < kMR; ++r)
    for (int v = 0; v < kNV; ++v) vstore(c + r * ldc + v * kLanes, acc[r][v]);
}

/// A 64-byte aligned float scratch of at least n floats, owned by the calling thread and kept between calls
/// (tasks run on the pool's long-lived threads: no allocation or page faults per call).
float* thread_scratch(std::vector<float>& v, size_t n) {
  if (v.size() < n + kLanes) v.resize(n + kLanes);
  const uintptr_t p = reinterpret_cast<uintptr_t>(v.data());
  return reinterpret_cast<float*>((p + 63) & ~uintptr_t(63));
}

/// The shape of one call's blocking.
struct Plan {
  int64_t panels;  // NR-column panels of B
  int64_t mc;      // rows of a row block: at most kMC, a multiple of kMR, the blocks as even as that allows
  int64_t mblocks, nc, nblocks;
  int64_t tasks() const { return mblocks * nblocks; }
};

Plan make_plan(const GemmArgs& g) {
  Plan p;
  p.panels = (g.n + kNR - 1) / kNR;
  p.mblocks = (g.m + kMC - 1) / kMC;
  // Even blocks: 512 rows as 4 x 132 (the last 116), not 3 x 144 + 80, so the threads finish together.
  p.mc = std::min<int64_t>(kMC, ((g.m + p.mblocks - 1) / p.mblocks + kMR - 1) / kMR * kMR);
  p.mblocks = (g.m + p.mc - 1) / p.mc;
  p.nc = std::min<int64_t>(kMaxNC, p.panels * kNR);
  // Few row blocks (small m): cut the columns finer so every thread gets a few tiles.
  const int64_t want = 4 * (int64_t)num_threads();
  const int64_t per_batch = (want + g.batch - 1) / g.batch;
  if (p.mblocks * ((g.n + p.nc - 1) / p.nc) < per_batch) {
    const int64_t nb = (per_batch + p.mblocks - 1) / p.mblocks;
    const int64_t cols = ((g.n + nb - 1) / nb + kNR - 1) / kNR * kNR;
    p.nc = std::max<int64_t>(2 * kNR, std::min(p.nc, cols));
  }
  p.nblocks = (g.n + p.nc - 1) / p.nc;
  return p;
}

/// Packs panel jp of B (columns [jp*NR, jp*NR + NR), all k) into dst [k][NR], zero-padding missing columns.
void pack_b_panel(DType t, const GemmArgs& g, const void* b, int64_t b_off, int64_t jp, float* dst,
                  std::vector<float>& row) {
  const int64_t j0 = jp * kNR, w = std::min<int64_t>(kNR, g.n - j0);
  if (!g.b_trans) {  // B [k, n]: each k step is a contiguous run of w columns
    for (int64_t p = 0; p < g.k; ++p) {
      float* d = dst + p * kNR;
      load_row(b, t, (size_t)(b_off + p * g.n + j0), w, d);
      std::fill(d + w, d + kNR, 0.f);
    }
    return;
  }
  // B = W^T with W [n, k]: read each of the panel's rows of W once and scatter it down a column.
  row.resize((size_t)g.k);
  for (int64_t j = 0; j < kNR; ++j) {
    if (j < w) load_row(b, t, (size_t)(b_off + (j0 + j) * g.k), g.k, row.data());
    for (int64_t p = 0; p < g.k; ++p) dst[p * kNR + j] = j < w ? row[(size_t)p] : 0.f;
  }
}

/// Packs rows [i0, i0 + mc) x k range [p0, p0 + kc) of op(A) into MR-row micro-panels [panel][kc][MR].
void pack_a_block(DType t, const GemmArgs& g, int64_t a_off, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* dst,
                  std::vector<float>& row) {
  const int64_t panels = (mc + kMR - 1) / kMR;
  if (g.a_trans) {  // A stored [k, m]: each k step is a contiguous run of the block's rows
    row.resize((size_t)(panels * kMR));
    for (int64_t p = 0; p < kc; ++p) {
      load_row(g.a, t, (size_t)(a_off + (p0 + p) * g.m + i0), mc, row.data());
      std::fill(row.begin() + mc, row.end(), 0.f);
      for (int64_t ip = 0; ip < panels; ++ip)
        std::copy(row.begin() + ip * kMR, row.begin() + (ip + 1) * kMR, dst + (ip * kc + p) * kMR);
    }
    return;
  }
  row.resize((size_t)kc);
  for (int64_t ip = 0; ip < panels; ++ip) {
    float* d = dst + ip * kc * kMR;
    for (int r = 0; r < kMR; ++r) {
      const int64_t i = ip * kMR + r;
      if (i < mc) load_row(g.a, t, (size_t)(a_off + (i0 + i) * g.k + p0), kc, row.data());
      for (int64_t p = 0; p < kc; ++p) d[p * kMR + r] = i < mc ? row[(size_t)p] : 0.f;
    }
  }
}

/// Thread-local buffers of the tasks.
struct TaskScratch {
  std::vector<float> apack, ctile, row;
};

/// One tile: rows [ib*MC, +MC) x columns [jb*nc, +nc) of batch entry `batch`.
void run_tile(DType t, const GemmArgs& g, const Plan& pl, const float* bpack, const float* bias, int64_t batch,
              int64_t ib, int64_t jb, TaskScratch& s) {
  const int64_t i0 = ib * pl.mc, mc = std::min(pl.mc, g.m - i0);
  const int64_t j0 = jb * pl.nc, nc = std::min(pl.nc, g.n - j0);
  const int64_t mpanels = (mc + kMR - 1) / kMR, npanels = (nc + kNR - 1) / kNR;
  // The C tile is stored micro-tile by micro-tile ([ir][jr][MR][NR]): a micro-kernel's rows are then
  // neighbours in memory, not a row pitch apart (a pitch of a power of two puts them all in one L1 set).
  constexpr int64_t kTile = kMR * kNR;
  float* apack = thread_scratch(s.apack, (size_t)(mpanels * kMR * kKC));
  float* ctile = thread_scratch(s.ctile, (size_t)(mpanels * npanels * kTile));
  if (g.k == 0) std::fill(ctile, ctile + mpanels * npanels * kTile, 0.f);
  const int64_t a_off = batch * g.a_stride;
  for (int64_t p0 = 0; p0 < g.k; p0 += kKC) {
    const int64_t kc = std::min(kKC, g.k - p0);
    pack_a_block(t, g, a_off, i0, mc, p0, kc, apack, s.row);
    for (int64_t jr = 0; jr < npanels; ++jr) {
      const float* bp = bpack + ((j0 / kNR + jr) * g.k + p0) * kNR;
      for (int64_t ir = 0; ir < mpanels; ++ir)
        micro_kernel(kc, apack + ir * kc * kMR, bp, ctile + (ir * npanels + jr) * kTile, kNR, p0 == 0);
    }
  }
  // Epilogue: bias, then one rounding to the output dtype.
  s.row.resize((size_t)(npanels * kNR));
  for (int64_t i = 0; i < mc; ++i) {
    const float* tile_row = ctile + (i / kMR) * npanels * kTile + (i % kMR) * kNR;
    for (int64_t jr = 0; jr < npanels; ++jr)
      std::copy(tile_row + jr * kTile, tile_row + jr * kTile + kNR, s.row.begin() + jr * kNR);
    if (bias)
      for (int64_t j = 0; j < nc; ++j) s.row[(size_t)j] += bias[j0 + j];
    store_row(g.c, t, (size_t)(batch * g.m * g.n + (i0 + i) * g.n + j0), nc, s.row.data());
  }
}

void gemm_f32(DType t, const GemmArgs& g) {
  const Plan pl = make_plan(g);
  const int64_t bmats = g.b_stride == 0 ? 1 : g.batch;  // distinct B matrices
  const int64_t panel_floats = g.k * kNR;
  HostBuffer bpack((size_t)std::max<int64_t>(1, bmats * pl.panels * panel_floats) * sizeof(float));
  float* bp = static_cast<float*>(bpack.data());
  parallel_for(bmats * pl.panels, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> row;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t bm = i / pl.panels, jp = i % pl.panels;
      pack_b_panel(t, g, g.b, bm * g.b_stride, jp, bp + i * panel_floats, row);
    }
  });
  // One bias row per batch entry when bias_stride is set, else one for all.
  const int64_t bias_rows = g.bias && g.bias_stride ? g.batch : 1;
  std::vector<float> bias;
  if (g.bias) {
    bias.resize((size_t)(bias_rows * g.n));
    for (int64_t r = 0; r < bias_rows; ++r) load_row(g.bias, t, (size_t)(r * g.bias_stride), g.n, bias.data() + r * g.n);
  }
  const int64_t per_batch = pl.tasks();
  parallel_for(g.batch * per_batch, 1, [&](int64_t begin, int64_t end) {
    static thread_local TaskScratch scratch;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t batch = task / per_batch, r = task % per_batch;
      const float* bmat = bp + (g.b_stride == 0 ? 0 : batch) * pl.panels * panel_floats;
      const float* brow = g.bias ? bias.data() + (bias_rows > 1 ? batch * g.n : 0) : nullptr;
      run_tile(t, g, pl, bmat, brow, batch, r / pl.nblocks, r % pl.nblocks, scratch);
    }
  });
}

/// float64: row by row in float64 (a plain loop: float64 exists for checks, not speed).
void gemm_f64(const GemmArgs& g) {
  const double* A = static_cast<const double*>(g.a);
  const double* B = static_cast<const double*>(g.b);
  const double* bias = static_cast<const double*>(g.bias);
  double* C = static_cast<double*>(g.c);
  parallel_for(g.batch * g.m, 16, [&](int64_t begin, int64_t end) {
    std::vector<double> arow((size_t)g.k);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t batch = row / g.m, i = row % g.m;
      const double* a = A + batch * g.a_stride + i * g.k;
      if (g.a_trans) {  // gather row i of op(A) from column i of A [k, m]
        for (int64_t p = 0; p < g.k; ++p) arow[(size_t)p] = A[batch * g.a_stride + p * g.m + i];
        a = arow.data();
      }
      const double* b = B + batch * g.b_stride;
      double* c = C + row * g.n;
      const double* brow = bias ? bias + batch * g.bias_stride : nullptr;
      for (int64_t j = 0; j < g.n; ++j) c[j] = brow ? brow[j] : 0.0;
      if (g.b_trans) {
        for (int64_t j = 0; j < g.n; ++j) {
          double s = 0.0;
          for (int64_t p = 0; p < g.k; ++p) s += a[p] * b[j * g.k + p];
          c[j] += s;
        }
      } else {
        for (int64_t p = 0; p < g.k; ++p)
          for (int64_t j = 0; j < g.n; ++j) c[j] += a[p] * b[p * g.n + j];
      }
    }
  });
}

}  // namespace

void gemm(DType t, const GemmArgs& g) {
  if (g.batch == 0 || g.m == 0 || g.n == 0) return;
  if (t == DType::Float64) gemm_f64(g);
  else gemm_f32(t, g);
}

}  // namespace natten::cpu::NATTEN_SIMD
