// The one shape of the fused kernel families' config registries, and the helpers both families use.
//
// Each family (fused/forward: forward.h ForwardConfigs; fused/backward: fna_backward.h BackwardConfigs)
// has an entry list per dims value (entries derive from ConfigEntry) and implements FamilyConfigs: which
// entries a device runs and what one costs on a problem. The shared parts (head-dim tier, the candidates
// of a problem, the cheapest candidate) are written once here. Plain C++ (no CUDA headers): the dispatch
// layer lists and chooses configs through it (kernels/dispatch/fused_configs.cu, fused_choice.cu).
#pragma once
#include <stdint.h>
#include <map>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>
#include "../common/dtype.h"
#include "../common/problem.h"
#include "device_caps.h"

namespace natten::fused {

/// What every fused config is, in both families: what the registry filters on and natten.fusedConfigs
/// lists. Axes past dims have extent 1.
struct ConfigEntry {
  int dims;
  int q_tile[kMaxDims];   // queries per CTA (the backward: per Q tile of the KV-parallel main kernel)
  int kv_tile[kMaxDims];  // keys per KV tile
  int head_dim_tier;      // runs any D, Dv <= tier (multiples of 8); see head_dim_tier()
  int arch;  // kernel family: 80 mma.sync (sm_80+); 90 wgmma, 91 warp-specialised wgmma (sm_90a, cc 9.0 only)
  DType dtype;
  int threads;     // per CTA (the backward: of the main kernel)
  int smem_bytes;  // dynamic shared memory per CTA (the backward: of the main kernel)
};

/// Head-dim tier of (D, Dv) for a family compiled up to `max_tier`: the smallest of 32, 64, 128, 256
/// holding max(D, Dv); 0 when there is none (D or Dv not a multiple of 8, or max(D, Dv) not positive or
/// above max_tier).
inline int head_dim_tier(int64_t head_dim, int64_t head_dim_v, int max_tier) {
  const int64_t d = head_dim > head_dim_v ? head_dim : head_dim_v;
  if (head_dim % 8 != 0 || head_dim_v % 8 != 0 || d <= 0 || d > max_tier) return 0;
  for (int tier : {32, 64, 128, 256})
    if (d <= tier) return tier;
  return 0;
}

/// ConfigEntry::arch of the warp-specialised sm_90a forward (TMA producer, two consumer warpgroups).
constexpr int kWgmmaWsArch = 91;

/// Public name of a kernel family: "mma" (arch 80, mma.sync), "wgmma" (arch 90) or "wgmma-ws" (arch 91).
inline const char* kernel_name(int arch) { return arch == kWgmmaWsArch ? "wgmma-ws" : arch >= 90 ? "wgmma" : "mma"; }

/// True when a buffer meets the fused kernels' 16-byte (cp.async, vector load) alignment.
inline bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15u) == 0; }

/// True when a tile-shape option was given (all zeros: not given, FusedConfig).
inline bool tile_given(const int (&ext)[kMaxDims]) { return ext[0] != 0 || ext[1] != 0 || ext[2] != 0; }

/// True when the first `dims` extents of two tile shapes agree.
inline bool same_tile(const int (&a)[kMaxDims], const int (&b)[kMaxDims], int dims) {
  for (int i = 0; i < dims; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

/// "[8, 8]" style text of the first `dims` extents.
inline std::string shape_text(const int* ext, int dims) {
  std::string s = "[";
  for (int a = 0; a < dims; ++a) s += (a ? ", " : "") + std::to_string(ext[a]);
  return s + "]";
}

/// The config registry of one fused kernel family: its entry lists and its cost model.
template <class Entry>
class FamilyConfigs {
  static_assert(std::is_base_of_v<ConfigEntry, Entry>, "a family's entries are ConfigEntry");

 public:
  virtual ~FamilyConfigs() = default;

  /// Every entry of the family for `dims` (1, 2 or 3) spatial dims, in list order.
  virtual const std::vector<Entry>& list(int dims) const = 0;
  /// The largest head-dim tier the family has entries for.
  virtual int max_head_dim_tier() const = 0;
  /// True when the device can run the entry's kernels.
  virtual bool runs_on(const Entry& e, const DeviceCaps& caps) const = 0;
  /// True when the entry's kernel can run the problem (default: every problem its tier and dtype admit).
  virtual bool runs_problem(const Entry&, const NaProblem&) const { return true; }
  /// Estimated relative run time of the entry on a problem (lower is better).
  virtual double cost(const Entry& e, const NaProblem& p, const DeviceCaps& caps) const = 0;

  /// The family's head-dim tier of (D, Dv); 0 when it has none.
  int head_dim_tier(int64_t head_dim, int64_t head_dim_v) const {
    return fused::head_dim_tier(head_dim, head_dim_v, max_head_dim_tier());
  }

  /// The entries for (dims, head-dim tier, dtype) that run on the device, in list order; with a problem, only
  /// those that run it.
  std::vector<const Entry*> entries(int dims, int tier, DType t, const DeviceCaps& caps,
                                    const NaProblem* problem = nullptr) const {
    std::vector<const Entry*> out;
    if (dims < 1 || dims > kMaxDims) return out;
    for (const Entry& e : list(dims))
      if (e.head_dim_tier == tier && e.dtype == t && runs_on(e, caps) && (!problem || runs_problem(e, *problem)))
        out.push_back(&e);
    return out;
  }

  /// The cheapest of `cands` by cost(), the first listed on ties; null when there is none. Remembered per
  /// problem, device and candidate list: the cost model replays a CTA per candidate, tens of microseconds of
  /// host time on every op call otherwise, and its answer for one problem never changes.
  const Entry* cheapest(const std::vector<const Entry*>& cands, const NaProblem& p, const DeviceCaps& caps) const {
    static std::mutex mutex;
    static auto* memo = new std::map<std::vector<int64_t>, const Entry*>();  // never destroyed (threads)
    std::vector<int64_t> key = cost_key(p, caps);
    for (const Entry* e : cands) key.push_back(reinterpret_cast<intptr_t>(e));
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = memo->find(key);
      if (it != memo->end()) return it->second;
    }
    const Entry* best = pick_cheapest(cands, p, caps);
    std::lock_guard<std::mutex> lock(mutex);
    if (memo->size() >= 4096) memo->clear();  // a bound for processes that see endless shapes
    (*memo)[std::move(key)] = best;
    return best;
  }

 private:
  /// What the cost model reads of a problem and a device.
  static std::vector<int64_t> cost_key(const NaProblem& p, const DeviceCaps& caps) {
    std::vector<int64_t> k = {p.dims,    p.batch,     p.heads,       p.heads_kv,    p.head_dim,    p.head_dim_v,
                              p.n_extra, caps.device, caps.cc_major, caps.cc_minor, caps.sm_count, caps.smem_optin};
    for (int a = 0; a < kMaxDims; ++a)
      k.insert(k.end(), {p.length[a], p.kernel[a], p.stride[a], p.dilation[a], int64_t(p.causal[a])});
    return k;
  }

  const Entry* pick_cheapest(const std::vector<const Entry*>& cands, const NaProblem& p, const DeviceCaps& caps) const {
    const Entry* best = nullptr;
    double best_cost = 0;
    for (const Entry* e : cands) {
      const double c = cost(*e, p, caps);
      if (!best || c < best_cost) best = e, best_cost = c;
    }
    return best;
  }
};

}  // namespace natten::fused
