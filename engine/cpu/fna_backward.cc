// Fused neighborhood attention backward on the CPU, without atomics (deterministic for a given thread
// count): the probabilities are recomputed from Q, K and the forward's LSE.
//   dQ pass (query tiles, keys of their windows):  P = exp2(S - lse), dP = dO.V, dS = P (dP - delta),
//                                                   dQ = scale * sum dS K   (+ the additional keys)
//   dK/dV pass (key tiles, queries of their inverse windows, every query head of the kv head):
//                                                   dV = sum P dO, dK = scale * sum dS Q
//   additional keys/values: one (batch, kv head, extra key) per work item, summed over all queries.
// delta = rowsum(dO * O) is computed first.
#include <math.h>

#include <algorithm>
#include <vector>

#include "elem_io.h"
#include "engine.h"
#include "fna_common.h"
#include "fna_f64.h"
#include "parallel.h"
#include "real_view.h"

namespace natten::cpu::NATTEN_SIMD {
namespace {

/// P = exp2(S - lse2) and dS = P * (dP - delta) over n score vectors (lse2, delta per lane).
void probs_and_grads(float* S, float* dP, int64_t n, vf lse2, vf delta) {
  for (int64_t i = 0; i < n; ++i) {
    const vf p = vexp2(vload(S + i * kLanes) - lse2);
    vstore(S + i * kLanes, p);
    vstore(dP + i * kLanes, vselect(p > 0.f, p * (vload(dP + i * kLanes) - delta), vzero()));
  }
}

struct Backward {
  const NaProblem& p;
  DType t;
  const FusedBackwardArgs& a;
  int64_t N, D, Dv, H, Hkv, G;
  std::vector<float> delta;  // [B, N, H]
  FusedView qv, kv, vv, dov, dqv, dkv, dvv;

  Backward(const NaProblem& prob, DType type, const FusedBackwardArgs& args)
      : p(prob),
        t(type),
        a(args),
        N(prob.tokens()),
        D(prob.head_dim),
        Dv(prob.head_dim_v),
        H(prob.heads),
        Hkv(prob.heads_kv),
        G(prob.heads / prob.heads_kv) {
    qv = {a.q, t, N, H, D};
    kv = {a.k, t, N, Hkv, D};
    vv = {a.v, t, N, Hkv, Dv};
    dov = {a.d_out, t, N, H, Dv};
    dqv = qv;
    dkv = kv;
    dvv = vv;
  }

  void compute_delta() {
    delta.resize((size_t)(p.batch * N * H));
    parallel_for(p.batch * N * H, 64, [&](int64_t begin, int64_t end) {
      std::vector<float> o((size_t)Dv), g((size_t)Dv);
      for (int64_t r = begin; r < end; ++r) {
        load_row(a.out, t, (size_t)(r * Dv), Dv, o.data());
        load_row(a.d_out, t, (size_t)(r * Dv), Dv, g.data());
        float s = 0.f;
        for (int64_t c = 0; c < Dv; ++c) s += o[c] * g[c];
        delta[r] = s;
      }
    });
  }

  // ---- dQ: query tiles against the packed keys/values of their windows ----
  void dq_pass() {
    PassGeom g(p, Relation::Window);
    const int64_t rows = g.rg.rows;
    FloatBuffer &kp = workspace(0), &vp = workspace(1), &ekp = workspace(2), &evp = workspace(3);
    kp.resize(packed_floats(p.batch, Hkv, rows, D, g.W));
    vp.resize(packed_floats(p.batch, Hkv, rows, Dv, g.W));
    pack_heads(kv, p.batch, 0, Hkv, g, 1.f, kp.data());
    pack_heads(vv, p.batch, 0, Hkv, g, 1.f, vp.data());
    if (p.n_extra > 0) {
      ekp.resize(p.batch * Hkv * p.n_extra * D);
      evp.resize(p.batch * Hkv * p.n_extra * Dv);
      pack_extra(a.extra_k, t, p.batch, p.n_extra, Hkv, D, ekp.data());
      pack_extra(a.extra_v, t, p.batch, p.n_extra, Hkv, Dv, evp.data());
    }
    const int64_t nitems = (int64_t)g.items.size();
    const float qscale = p.scale * kLog2e;
    parallel_for(p.batch * H * nitems, 1, [&](int64_t begin, int64_t end) {
      Scratch& sc = Scratch::local(kMaxVecs * (2 * D + Dv + 2 * kChunkBudget) + 64);
      int64_t used = 0;
      float *qt[kMaxVecs], *got[kMaxVecs], *dqt[kMaxVecs], *s[kMaxVecs], *dp[kMaxVecs];
      for (int v = 0; v < kMaxVecs; ++v) {
        qt[v] = sc.take(D * kLanes, used);
        got[v] = sc.take(Dv * kLanes, used);
        dqt[v] = sc.take(D * kLanes, used);
        s[v] = sc.take(kChunkBudget * kLanes, used);
        dp[v] = sc.take(kChunkBudget * kLanes, used);
      }
      Block blk;
      std::vector<int> tmp;
      std::vector<Chunk> chunks;
      for (int64_t it = begin; it < end; ++it) {
        const PassGeom::Item& item = g.items[it % nitems];
        const int64_t bh = it / nitems, b = bh / H, h = bh % H, hk = p.kv_head(h);
        blk.nv = item.nv;
        for (int v = 0; v < item.nv; ++v) blk.v[v] = {item.row[v], &g.tiles[item.tile[v]]};
        block_rows(g.rg, Relation::Window, blk, tmp);
        vf lse2[kMaxVecs], dl[kMaxVecs];
        for (int v = 0; v < blk.nv; ++v) {
          const LaneTile& tile = *blk.v[v].tile;
          load_tile(qv, b, h, g.rg, g.Lx, blk.v[v].row, tile, qscale, qt[v]);
          load_tile(dov, b, h, g.rg, g.Lx, blk.v[v].row, tile, 1.f, got[v]);
          std::fill(dqt[v], dqt[v] + D * kLanes, 0.f);
          lse2[v] = dl[v] = vzero();
          for (int l = 0; l < tile.lanes; ++l) {
            const int64_t r = (b * N + token_of(g.rg, g.Lx, blk.v[v].row, tile.x[l])) * H + h;
            lse2[v][l] = a.lse[r] * kLog2e;
            dl[v][l] = delta[r];
          }
        }
        const float* kh = kp.data() + (b * Hkv + hk) * rows * D * g.W;
        const float* vh = vp.data() + (b * Hkv + hk) * rows * Dv * g.W;
        plan_chunks(blk, kChunkBudget, chunks);
        for (const Chunk& ch : chunks) {
          qk_chunk(blk, ch, qt, kh, D * g.W, g.W, (int)D, s);
          mask_chunk(blk, ch, s);
          qk_chunk(blk, ch, got, vh, Dv * g.W, g.W, (int)Dv, dp);
          for (int v = 0; v < blk.nv; ++v)
            for_active_rows(blk, ch, v,
                            [&](int64_t at, int64_t n) { probs_and_grads(s[v] + at, dp[v] + at, n, lse2[v], dl[v]); });
          pv_chunk(blk, ch, dp, kh, D * g.W, g.W, (int)D, dqt);
        }
        for (int64_t e0 = 0; e0 < p.n_extra; e0 += kChunkBudget) {
          const int ne = (int)std::min<int64_t>(kChunkBudget, p.n_extra - e0);
          const float* ek = ekp.data() + ((b * Hkv + hk) * p.n_extra + e0) * D;
          const float* ev = evp.data() + ((b * Hkv + hk) * p.n_extra + e0) * Dv;
          qk_shared(blk.nv, qt, ek, ne, (int)D, s);
          qk_shared(blk.nv, got, ev, ne, (int)Dv, dp);
          for (int v = 0; v < blk.nv; ++v) probs_and_grads(s[v], dp[v], ne, lse2[v], dl[v]);
          pv_shared(blk.nv, dp, ek, D, ne, (int)D, dqt);
        }
        for (int v = 0; v < blk.nv; ++v)
          store_tile(a.dq, dqv, b, h, g.rg, g.Lx, blk.v[v].row, *blk.v[v].tile, dqt[v], vset(p.scale));
      }
    });
  }

  // ---- dK, dV: key tiles against the packed queries of their inverse windows ----
  void dkv_pass() {
    PassGeom g(p, Relation::InverseWindow);
    const int64_t rows = g.rg.rows;
    FloatBuffer &qp = workspace(4), &dop = workspace(5), &lp = workspace(6), &dlp = workspace(7);
    qp.resize(packed_floats(p.batch, H, rows, D, g.W));
    dop.resize(packed_floats(p.batch, H, rows, Dv, g.W));
    lp.resize(packed_floats(p.batch, H, rows, 1, g.W));
    dlp.resize(packed_floats(p.batch, H, rows, 1, g.W));
    pack_heads(qv, p.batch, 0, H, g, 1.f, qp.data());
    pack_heads(dov, p.batch, 0, H, g, 1.f, dop.data());
    pack_heads(FusedView{a.lse, DType::Float32, N, H, 1}, p.batch, 0, H, g, kLog2e, lp.data());
    pack_heads(FusedView{delta.data(), DType::Float32, N, H, 1}, p.batch, 0, H, g, 1.f, dlp.data());
    const int64_t nitems = (int64_t)g.items.size();
    const float kscale = p.scale * kLog2e;
    parallel_for(p.batch * Hkv * nitems, 1, [&](int64_t begin, int64_t end) {
      Scratch& sc = Scratch::local(kMaxVecs * (2 * D + 2 * Dv + 2 * kChunkBudget) + 64);
      int64_t used = 0;
      float *kt[kMaxVecs], *vt[kMaxVecs], *dkt[kMaxVecs], *dvt[kMaxVecs], *s[kMaxVecs], *dp[kMaxVecs];
      for (int v = 0; v < kMaxVecs; ++v) {
        kt[v] = sc.take(D * kLanes, used);
        vt[v] = sc.take(Dv * kLanes, used);
        dkt[v] = sc.take(D * kLanes, used);
        dvt[v] = sc.take(Dv * kLanes, used);
        s[v] = sc.take(kChunkBudget * kLanes, used);
        dp[v] = sc.take(kChunkBudget * kLanes, used);
      }
      Block blk;
      std::vector<int> tmp;
      std::vector<Chunk> chunks;
      for (int64_t it = begin; it < end; ++it) {
        const PassGeom::Item& item = g.items[it % nitems];
        const int64_t bk = it / nitems, b = bk / Hkv, hk = bk % Hkv;
        blk.nv = item.nv;
        for (int v = 0; v < item.nv; ++v) blk.v[v] = {item.row[v], &g.tiles[item.tile[v]]};
        block_rows(g.rg, Relation::InverseWindow, blk, tmp);
        for (int v = 0; v < blk.nv; ++v) {
          load_tile(kv, b, hk, g.rg, g.Lx, blk.v[v].row, *blk.v[v].tile, kscale, kt[v]);
          load_tile(vv, b, hk, g.rg, g.Lx, blk.v[v].row, *blk.v[v].tile, 1.f, vt[v]);
          std::fill(dkt[v], dkt[v] + D * kLanes, 0.f);
          std::fill(dvt[v], dvt[v] + Dv * kLanes, 0.f);
        }
        plan_chunks(blk, kChunkBudget, chunks);
        for (int64_t h = hk * G; h < (hk + 1) * G; ++h) {
          const int64_t bh = b * H + h;
          const float* qh = qp.data() + bh * rows * D * g.W;
          const float* doh = dop.data() + bh * rows * Dv * g.W;
          const float* lh = lp.data() + bh * rows * g.W;
          const float* dlh = dlp.data() + bh * rows * g.W;
          for (const Chunk& ch : chunks) {
            qk_chunk(blk, ch, kt, qh, D * g.W, g.W, (int)D, s);
            mask_chunk(blk, ch, s);
            qk_chunk(blk, ch, vt, doh, Dv * g.W, g.W, (int)Dv, dp);
            // P and dS need the lse/delta of each entry's query: a sliding load of the packed rows.
            for (const Segment& sg : ch.segs) {
              const float* lrow = lh + (int64_t)blk.rows[sg.i] * g.W + kPad;
              const float* drow = dlh + (int64_t)blk.rows[sg.i] * g.W + kPad;
              for (int v = sg.first; v < sg.first + sg.count; ++v) {
                float* sv = s[v] + ch.at(v, sg.i, sg.c0);
                float* dv = dp[v] + ch.at(v, sg.i, sg.c0);
                for (int c = sg.c0; c < sg.c1; ++c) {
                  const int64_t o = (c - sg.c0) * kLanes;
                  const vf pr = vexp2(vload(sv + o) - vloadu(lrow + c));
                  vstore(sv + o, pr);
                  vstore(dv + o, vselect(pr > 0.f, pr * (vload(dv + o) - vloadu(drow + c)), vzero()));
                }
              }
            }
            pv_chunk(blk, ch, s, doh, Dv * g.W, g.W, (int)Dv, dvt);
            pv_chunk(blk, ch, dp, qh, D * g.W, g.W, (int)D, dkt);
          }
        }
        for (int v = 0; v < blk.nv; ++v) {
          store_tile(a.dk, dkv, b, hk, g.rg, g.Lx, blk.v[v].row, *blk.v[v].tile, dkt[v], vset(p.scale));
          store_tile(a.dv, dvv, b, hk, g.rg, g.Lx, blk.v[v].row, *blk.v[v].tile, dvt[v], vset(1.f));
        }
      }
    });
  }

  // ---- additional keys/values: every query of the kv head's query heads ----
  void extra_pass() {
    if (p.n_extra == 0) return;
    const F32View q(a.q, t, p.batch * N * H * D), go(a.d_out, t, p.batch * N * H * Dv);
    parallel_for(p.batch * Hkv * p.n_extra, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> ek((size_t)D), ev((size_t)Dv), dek((size_t)D), dev((size_t)Dv);
      for (int64_t i = begin; i < end; ++i) {
        const int64_t e = i % p.n_extra, bk = i / p.n_extra, b = bk / Hkv, hk = bk % Hkv;
        const size_t at_k = (size_t)(((b * p.n_extra + e) * Hkv + hk) * D);
        const size_t at_v = (size_t)(((b * p.n_extra + e) * Hkv + hk) * Dv);
        load_row(a.extra_k, t, at_k, D, ek.data());
        load_row(a.extra_v, t, at_v, Dv, ev.data());
        std::fill(dek.begin(), dek.end(), 0.f);
        std::fill(dev.begin(), dev.end(), 0.f);
        for (int64_t h = hk * G; h < (hk + 1) * G; ++h)
          for (int64_t tok = 0; tok < N; ++tok) {
            const int64_t r = (b * N + tok) * H + h;
            const float* qr = q + r * D;
            const float* gr = go + r * Dv;
            const float pr = expf(p.scale * dot(qr, ek.data(), D) - a.lse[r]);
            const float ds = pr * (dot(gr, ev.data(), Dv) - delta[r]);
            axpy(pr, gr, dev.data(), Dv);
            axpy(ds * p.scale, qr, dek.data(), D);
          }
        store_row(a.d_extra_k, t, at_k, D, dek.data());
        store_row(a.d_extra_v, t, at_v, Dv, dev.data());
      }
    });
  }
};

}  // namespace

void fna_backward(const NaProblem& p, DType t, const FusedBackwardArgs& a) {
  if (p.batch == 0 || p.tokens() == 0) return;
  if (t == DType::Float64) return fna_backward_f64(p, a);  // real float64 arithmetic, beside the fp32 engine
  Backward bw(p, t, a);
  bw.compute_delta();
  bw.dq_pass();
  bw.dkv_pass();
  bw.extra_pass();
  release_workspace();
}

}  // namespace natten::cpu::NATTEN_SIMD
