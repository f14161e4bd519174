// Host side of the tensor-core fused forward: checks, the config registry (ForwardConfigs) and config
// choice; the cost heuristic is forward_cost.cu.
#include "forward.h"

#include <stdint.h>
#include <algorithm>

#include "../../common/error.h"
#include "../../common/tile_shape.h"
#include "../../common/tile_window.h"
#include "../../runtime/cuda_check.h"

namespace natten::fused {
namespace {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
    case DType::Float32: return "float32";
    default: return "float64";
  }
}

}  // namespace

/// The entries of one dims value: the mma.sync and wgmma list, the window-union list (2-D), the 'wgmma-ws' list.
static std::vector<ForwardEntry> joined(const std::vector<ForwardEntry>& a, const std::vector<ForwardEntry>& b,
                                        const std::vector<ForwardEntry>& c = {}) {
  std::vector<ForwardEntry> out(a);
  out.insert(out.end(), b.begin(), b.end());
  out.insert(out.end(), c.begin(), c.end());
  return out;
}

const std::vector<ForwardEntry>& ForwardConfigs::list(int dims) const {
  static const std::vector<ForwardEntry> none;
  static const std::vector<ForwardEntry> d1 = joined(forward_entries_1d(), forward_ws_entries_1d());
  static const std::vector<ForwardEntry> d2 =
      joined(forward_entries_2d(), forward_union_entries_2d(), forward_ws_entries_2d());
  static const std::vector<ForwardEntry> d3 = joined(forward_entries_3d(), forward_ws_entries_3d());
  if (dims == 1) return d1;
  if (dims == 2) return d2;
  if (dims == 3) return d3;
  return none;
}

bool ForwardConfigs::runs_on(const ForwardEntry& e, const DeviceCaps& caps) const {
  return (e.arch < 90 || caps.runs_sm90a()) && caps.smem_fits(e.smem_bytes);
}

bool ForwardConfigs::runs_problem(const ForwardEntry& e, const NaProblem& p) const {
  if (!e.window_union) return true;
  if (p.dims != e.dims) return false;
  for (int a = 0; a < p.dims; ++a)
    if (max_tile_kv_extent(p.axis(a), e.q_tile[a]) > e.kv_tile[a]) return false;
  return true;
}

const ForwardConfigs& forward_configs() {
  static const ForwardConfigs configs;
  return configs;
}

std::string forward_problem_unsupported_reason(const NaProblem& p, DType t, const DeviceCaps& caps) {
  if (t != DType::Float16 && t != DType::BFloat16)
    return std::string(dtype_name(t)) + " inputs run on the reference kernel (the tensor-core path is fp16/bf16)";
  if (!caps.runs_fused_kernels())
    return "compute capability " + std::to_string(caps.cc_major) + "." + std::to_string(caps.cc_minor) +
           " is below 8.0 (the tensor-core path needs sm_80 or newer)";
  if (p.dims < 1 || p.dims > 3) return "dims must be 1, 2 or 3";
  if (p.head_dim % 8 != 0 || p.head_dim_v % 8 != 0)
    return "head dims " + std::to_string(p.head_dim) + "/" + std::to_string(p.head_dim_v) + " are not multiples of 8";
  if (forward_configs().head_dim_tier(p.head_dim, p.head_dim_v) == 0) return "head dim above 256";
  if (p.heads > 65535 || p.batch > 65535) return "batch or heads above 65535";
  if (p.n_extra > (int64_t(1) << 30)) return "more than 2^30 additional keys";
  for (int a = 0; a < p.dims; ++a)
    if (p.length[a] >= (1 << 30)) return "spatial extent too large";
  return "";
}

std::string forward_unsupported_reason(const NaProblem& p, DType t, const FusedForwardArgs& a, const DeviceCaps& caps) {
  const std::string why = forward_problem_unsupported_reason(p, t, caps);
  if (!why.empty()) return why;
  if (!aligned16(a.q) || !aligned16(a.k) || !aligned16(a.v) || !aligned16(a.out) ||
      (p.n_extra > 0 && (!aligned16(a.extra_k) || !aligned16(a.extra_v))))
    return "a tensor is not 16-byte aligned";
  return "";
}

/// Whether entry e may be the default (cost-model) choice for p. A 'wgmma-ws' entry is not a strip config, nor
/// a 3-D box config (measured 1.3x slower than wgmma on the 3-D benchmark problem; the 3-D plane configs are
/// candidates), nor where its CTAs (one per SM) are fewer than the SMs, which leaves SMs idle that the other
/// families' smaller CTAs fill. It stays selectable (forwardKernel, tile shapes, the autotuner) everywhere.
static bool ws_default_ok(const ForwardEntry& e, const NaProblem& p, const DeviceCaps& caps) {
  if (e.arch != kWgmmaWsArch) return true;
  if ((p.dims == 3 && e.kv_tile[0] != 1) || is_ws_strip(e)) return false;
  return forward_ctas(e, p) >= double(std::max(1, caps.sm_count));
}

const ForwardEntry& select_forward(const NaProblem& p, DType t, const FusedConfig& c, const DeviceCaps& caps) {
  const ForwardConfigs& family = forward_configs();
  const int tier = family.head_dim_tier(p.head_dim, p.head_dim_v);
  const std::vector<const ForwardEntry*> cands = family.entries(p.dims, tier, t, caps, &p);
  const bool want_q = tile_given(c.q_tile), want_kv = tile_given(c.kv_tile), want_arch = c.forward_arch != 0;
  // Whether entry e is what the call asks for (its tiles and family, where given).
  auto asked = [&](const ForwardEntry& e) {
    return (!want_q || same_tile(e.q_tile, c.q_tile, p.dims)) &&
           (!want_kv || same_tile(e.kv_tile, c.kv_tile, p.dims)) && (!want_arch || e.arch == c.forward_arch);
  };
  std::vector<const ForwardEntry*> match;
  for (const ForwardEntry* e : cands)
    if (asked(*e)) match.push_back(e);
  if (match.empty() && (want_q || want_kv || want_arch)) {
    // A window-union config asked for on a problem whose unions it cannot hold (not among the candidates).
    for (const ForwardEntry* e : family.entries(p.dims, tier, t, caps))
      if (e->window_union && asked(*e)) {
        std::string needed;
        for (int a = 0; a < p.dims; ++a)
          needed += (a ? " x " : "") + std::to_string(max_tile_kv_extent(p.axis(a), e->q_tile[a]));
        throw Error(ErrorKind::Range, "ERR_NATTEN_UNSUPPORTED",
                    "the window-union forward config {qTileShape: " + shape_text(e->q_tile, p.dims) +
                        ", kvTileShape: " + shape_text(e->kv_tile, p.dims) +
                        "} holds a Q tile's window union of at most " + shape_text(e->kv_tile, p.dims) +
                        " keys; this problem's Q tiles see up to " + needed + " (smaller windows or another config)");
      }
    std::string valid;
    for (const ForwardEntry* e : cands)
      valid += (valid.empty() ? "" : ", ") + std::string("{qTileShape: ") + shape_text(e->q_tile, p.dims) +
               ", kvTileShape: " + shape_text(e->kv_tile, p.dims) + ", kernel: " + kernel_name(e->arch) + "}";
    throw Error(ErrorKind::Range, "ERR_NATTEN_UNSUPPORTED",
                std::string("no compiled fused forward config has") +
                    (want_q ? " qTileShape " + shape_text(c.q_tile, p.dims) : "") +
                    (want_kv ? " kvTileShape " + shape_text(c.kv_tile, p.dims) : "") +
                    (want_arch ? std::string(" kernel '") + kernel_name(c.forward_arch) + "'" : "") + " for " +
                    std::to_string(p.dims) + "-D, head dim tier " + std::to_string(tier) + ", " + dtype_name(t) +
                    " on this device; valid: " + (valid.empty() ? "none" : valid));
  }
  if (match.empty())
    throw Error(ErrorKind::Natten, "ERR_NATTEN_UNSUPPORTED", "no compiled fused forward config fits this device");
  // Explicit tiles without a kernel family: the first in list order (mma.sync, as before wgmma existed).
  if (want_q || want_kv) return *match.front();
  if (!want_arch) {
    std::vector<const ForwardEntry*> dflt;
    for (const ForwardEntry* e : match)
      if (ws_default_ok(*e, p, caps)) dflt.push_back(e);
    if (!dflt.empty()) return *family.cheapest(dflt, p, caps);
  }
  return *family.cheapest(match, p, caps);
}

bool try_forward(int device, cudaStream_t stream, const NaProblem& p, DType t, const FusedForwardArgs& a,
                 const FusedConfig& c) {
  if (c.use_reference) return false;
  const DeviceCaps caps = device_caps(device);
  const std::string why = forward_unsupported_reason(p, t, a, caps);
  if (!why.empty()) {
    if (tile_given(c.q_tile) || tile_given(c.kv_tile))
      throw Error(ErrorKind::Range, "ERR_NATTEN_UNSUPPORTED",
                  "qTileShape/kvTileShape select a tensor-core fused config, but this problem cannot use one: " + why);
    return false;
  }
  if (p.tokens() == 0 || p.batch == 0 || p.heads == 0) return true;  // nothing to compute
  const ForwardEntry& e = select_forward(p, t, c, caps);
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  e.launch(p, a, stream);
  return true;
}

}  // namespace natten::fused
