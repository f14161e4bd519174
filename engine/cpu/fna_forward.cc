// Fused neighborhood attention forward on the CPU: for each block of one or two 16-query vectors,
// scores against the packed keys of their windows chunk by chunk, online softmax in base 2 (the scale
// and log2(e) folded into Q), and the weighted sum of the packed values. Writes O and the LSE.
// A key outside a query's window never reaches its output, even an infinite or NaN value (see work()).
#include <float.h>
#include <math.h>

#include <algorithm>
#include <vector>

#include "elem_io.h"
#include "engine.h"
#include "fna_common.h"
#include "fna_f64.h"
#include "parallel.h"

namespace natten::cpu::NATTEN_SIMD {
namespace {

/// Packed fp32 copies of K and V (and the additional ones), in the reusable workspace.
struct PackedKV {
  FloatBuffer& k = workspace(0);
  FloatBuffer& v = workspace(1);
  FloatBuffer& ek = workspace(2);
  FloatBuffer& ev = workspace(3);
};

struct Forward {
  const NaProblem& p;
  DType t;
  const FusedForwardArgs& a;
  PassGeom g;
  FusedView qv, kv, vv, ov;
  PackedKV kvp;

  Forward(const NaProblem& prob, DType type, const FusedForwardArgs& args)
      : p(prob), t(type), a(args), g(prob, Relation::Window) {
    const int64_t N = p.tokens();
    qv = {a.q, t, N, p.heads, p.head_dim};
    kv = {a.k, t, N, p.heads_kv, p.head_dim};
    vv = {a.v, t, N, p.heads_kv, p.head_dim_v};
    ov = {a.out, t, N, p.heads, p.head_dim_v};
  }

  void pack() {
    const int64_t rows = g.rg.rows;
    kvp.k.resize(packed_floats(p.batch, p.heads_kv, rows, p.head_dim, g.W));
    kvp.v.resize(packed_floats(p.batch, p.heads_kv, rows, p.head_dim_v, g.W));
    pack_heads(kv, p.batch, 0, p.heads_kv, g, 1.f, kvp.k.data());
    pack_heads(vv, p.batch, 0, p.heads_kv, g, 1.f, kvp.v.data());
    if (p.n_extra > 0) {
      kvp.ek.resize((p.batch * p.heads_kv * p.n_extra * p.head_dim));
      kvp.ev.resize((p.batch * p.heads_kv * p.n_extra * p.head_dim_v));
      pack_extra(a.extra_k, t, p.batch, p.n_extra, p.heads_kv, p.head_dim, kvp.ek.data());
      pack_extra(a.extra_v, t, p.batch, p.n_extra, p.heads_kv, p.head_dim_v, kvp.ev.data());
    }
  }

  void run() {
    pack();
    const int64_t nitems = (int64_t)g.items.size();
    parallel_for(p.batch * p.heads * nitems, 1, [&](int64_t begin, int64_t end) { work(begin, end); });
  }

  void work(int64_t begin, int64_t end) {
    const int64_t D = p.head_dim, Dv = p.head_dim_v, rows = g.rg.rows;
    const int64_t nitems = (int64_t)g.items.size();
    Scratch& sc = Scratch::local(kMaxVecs * (D + Dv + kChunkBudget) + 64);
    int64_t used = 0;
    float *qt[kMaxVecs], *ot[kMaxVecs], *s[kMaxVecs];
    for (int v = 0; v < kMaxVecs; ++v) {
      qt[v] = sc.take(D * kLanes, used);
      ot[v] = sc.take(Dv * kLanes, used);
      s[v] = sc.take(kChunkBudget * kLanes, used);
    }
    Block blk;
    std::vector<int> tmp;
    std::vector<Chunk> chunks;
    const float qscale = p.scale * kLog2e;

    for (int64_t it = begin; it < end; ++it) {
      const PassGeom::Item& item = g.items[it % nitems];
      const int64_t bh = it / nitems, b = bh / p.heads, h = bh % p.heads, hk = p.kv_head(h);
      blk.nv = item.nv;
      for (int v = 0; v < item.nv; ++v) blk.v[v] = {item.row[v], &g.tiles[item.tile[v]]};
      block_rows(g.rg, Relation::Window, blk, tmp);
      bool edge = false;  // some lane of the block reads keys outside its window (with weight 0)
      for (int v = 0; v < blk.nv; ++v) {
        load_tile(qv, b, h, g.rg, g.Lx, blk.v[v].row, *blk.v[v].tile, qscale, qt[v]);
        edge = edge || blk.v[v].tile->any_partial();
      }
      const float* kh = kvp.k.data() + (b * p.heads_kv + hk) * rows * D * g.W;
      const float* vh = kvp.v.data() + (b * p.heads_kv + hk) * rows * Dv * g.W;
      plan_chunks(blk, kChunkBudget, chunks);
      vf m[kMaxVecs], l[kMaxVecs];
      auto accumulate = [&](bool exact) {
        for (int v = 0; v < blk.nv; ++v) {
          std::fill(ot[v], ot[v] + Dv * kLanes, 0.f);
          m[v] = vset(-FLT_MAX);
          l[v] = vzero();
        }
        bool first = true;
        for (const Chunk& ch : chunks) {
          qk_chunk(blk, ch, qt, kh, D * g.W, g.W, (int)D, s);
          mask_chunk(blk, ch, s);
          for (int v = 0; v < blk.nv; ++v) online_softmax(blk, ch, v, s[v], m[v], l[v], ot[v], Dv, !first);
          pv_chunk(blk, ch, s, vh, Dv * g.W, g.W, (int)Dv, ot, exact);
          first = false;
        }
        for (int64_t e0 = 0; e0 < p.n_extra; e0 += kChunkBudget) {
          const int ne = (int)std::min<int64_t>(kChunkBudget, p.n_extra - e0);
          const float* ek = kvp.ek.data() + ((b * p.heads_kv + hk) * p.n_extra + e0) * D;
          const float* ev = kvp.ev.data() + ((b * p.heads_kv + hk) * p.n_extra + e0) * Dv;
          qk_shared(blk.nv, qt, ek, ne, (int)D, s);
          for (int v = 0; v < blk.nv; ++v) online_softmax(s[v], ne, m[v], l[v], ot[v], Dv, !first);
          pv_shared(blk.nv, s, ev, Dv, ne, (int)Dv, ot);
          first = false;
        }
      };
      // The fast path adds the keys outside a lane's window with weight 0: exact, unless V holds an Inf or
      // NaN there (0 * Inf = NaN would reach queries that never see that key). A block of edge tiles whose
      // accumulators come out non-finite is therefore computed again with those keys left out (exact pv):
      // one finiteness check per edge block on finite inputs, the exact result on bad ones.
      accumulate(false);
      if (edge) {
        bool finite = true;
        for (int v = 0; v < blk.nv; ++v) finite = finite && all_finite(ot[v], Dv);
        if (!finite) accumulate(true);
      }
      for (int v = 0; v < blk.nv; ++v) finish(b, h, blk.v[v], ot[v], m[v], l[v]);
    }
  }

  void finish(int64_t b, int64_t h, const BlockVec& bv, const float* o, vf m, vf l) {
    const LaneTile& tile = *bv.tile;
    store_tile(a.out, ov, b, h, g.rg, g.Lx, bv.row, tile, o, vset(1.f) / l);
    if (!a.lse) return;
    const int64_t N = p.tokens();
    for (int i = 0; i < tile.lanes; ++i) {
      const int64_t tok = token_of(g.rg, g.Lx, bv.row, tile.x[i]);
      a.lse[(b * N + tok) * p.heads + h] = (m[i] + log2_scalar(l[i])) * kLn2;
    }
  }
};

}  // namespace

void fna_forward(const NaProblem& p, DType t, const FusedForwardArgs& a) {
  if (p.batch == 0 || p.heads == 0 || p.tokens() == 0) return;
  if (t == DType::Float64) return fna_forward_f64(p, a);  // real float64 arithmetic, beside the fp32 engine
  Forward f(p, t, a);
  f.run();
  release_workspace();
}

}  // namespace natten::cpu::NATTEN_SIMD
