// Planning and launch of the fused NA backward (see fna_backward.h): the config registry (BackwardConfigs),
// checks what the fast path runs, picks tiles and the dQ strategy, lays out the workspace and fills the
// kernel parameters.
#include "fna_backward.h"

#include <cuda_runtime.h>

#include "../../common/error.h"
#include "fna_backward_kernels.h"
#include "fna_backward_wgmma_smem.h"

namespace natten::fused {

// Instantiated in fna_backward_f16.cu / fna_backward_bf16.cu, not here.
extern template void launch_backward_kernels<F16>(const BackwardParams&, const BackwardPlan&, const void*,
                                                  cudaStream_t);
extern template void launch_backward_kernels<BF16>(const BackwardParams&, const BackwardPlan&, const void*,
                                                   cudaStream_t);

namespace {

/// The problem padded to 3 axes (length, kernel, stride, dilation 1): what the kernels index.
NaProblem padded(const NaProblem& p) {
  NaProblem q = p;
  for (int a = p.dims; a < kMaxDims; ++a) {
    q.length[a] = q.kernel[a] = q.stride[a] = q.dilation[a] = 1;
    q.causal[a] = false;
  }
  q.dims = kMaxDims;
  return q;
}

/// Dynamic shared memory of the Q-parallel dQ kernel for a tier and stage count.
size_t dq_smem(int tier, int stages) {
  switch (tier) {
    case 32: return BwdDqSmem<BF16, 32>::bytes(stages);
    case 64: return BwdDqSmem<BF16, 64>::bytes(stages);
    default: return BwdDqSmem<BF16, 128>::bytes(stages);
  }
}

size_t kv_smem(int tier) {
  switch (tier) {
    case 32: return sizeof(BwdKvSmem<BF16, 32, 64>);
    case 64: return sizeof(BwdKvSmem<BF16, 64, 64>);
    default: return sizeof(BwdKvSmem<BF16, 128, 32>);
  }
}

size_t round256(size_t n) { return (n + 255) / 256 * 256; }

/// True when the device has the shared memory of the main and the dQ kernel (one KV buffer) at a tier.
bool tier_fits(int tier, const DeviceCaps& caps) {
  return caps.smem_fits(kv_smem(tier)) && caps.smem_fits(dq_smem(tier, 1));
}

/// Entries of both families: mma.sync first (list order is what fusedConfigs shows), then wgmma.
std::vector<BackwardEntry> make_entries(int dims) {
  std::vector<BackwardEntry> out;
  for (int arch : {80, kBwdWgmmaArch})
    for (int tier = 32; tier <= kBackwardMaxHeadDimTier; tier *= 2)
      for (DType t : {DType::Float16, DType::BFloat16})
        for (const BackwardTileConfig& c :
             arch == 80 ? backward_tile_configs(dims, tier) : backward_wgmma_tile_configs(dims, tier)) {
          BackwardEntry e{};
          e.dims = dims;
          for (int a = 0; a < kMaxDims; ++a) e.q_tile[a] = c.q[a], e.kv_tile[a] = c.kv[a];
          e.head_dim_tier = tier;
          e.arch = arch;
          e.dtype = t;
          e.threads = arch == 80 ? kBwdThreads : kBwdWgThreads;
          e.smem_bytes = (int)(arch == 80 ? kv_smem(tier) : bwd_wgmma_smem_bytes(tier));
          out.push_back(e);
        }
  return out;
}

}  // namespace

const std::vector<BackwardEntry>& BackwardConfigs::list(int dims) const {
  static const std::vector<BackwardEntry> lists[kMaxDims + 1] = {{}, make_entries(1), make_entries(2), make_entries(3)};
  return lists[dims >= 1 && dims <= kMaxDims ? dims : 0];
}

bool BackwardConfigs::runs_on(const BackwardEntry& e, const DeviceCaps& caps) const {
  if (e.arch == kBwdWgmmaArch && !(caps.runs_sm90a() && caps.smem_fits((size_t)e.smem_bytes))) return false;
  return caps.runs_fused_kernels() && tier_fits(e.head_dim_tier, caps);
}

double BackwardConfigs::cost(const BackwardEntry& e, const NaProblem& p, const DeviceCaps& caps) const {
  double rows = 1;
  for (int a = 0; a < p.dims; ++a) rows *= e.q_tile[a];
  return backward_tile_pairs(p, e.q_tile, e.kv_tile) * rows;
}

const BackwardConfigs& backward_configs() {
  static const BackwardConfigs configs;
  return configs;
}

std::string backward_problem_unsupported_reason(const NaProblem& p, DType t, const DeviceCaps& caps) {
  if (!caps.runs_fused_kernels()) return "the fused backward needs compute capability 8.0 or newer";
  if (t != DType::Float16 && t != DType::BFloat16) return "the fused backward runs float16 and bfloat16 only";
  if (p.dims < 1 || p.dims > kMaxDims) return "dims must be 1, 2 or 3";
  const int tier = backward_configs().head_dim_tier(p.head_dim, p.head_dim_v);
  if (tier == 0) return "the fused backward needs head dims that are multiples of 8 and at most 128";
  if (p.heads_kv <= 0 || p.heads % p.heads_kv != 0) return "heads_kv must divide heads";
  if (p.batch > 65535 || p.heads > 65535) return "batch and heads must be at most 65535";
  if (!tier_fits(tier, caps)) return "not enough shared memory per block on this GPU";
  // Grid slots per axis are below twice the axis length, so fewer than 8N in all: keep that in grid.x.
  if (p.tokens() > (int64_t)1 << 28) return "more than 2^28 tokens per batch and head";
  return "";
}

std::string backward_unsupported_reason(const NaProblem& p, DType t, const FusedBackwardArgs& a,
                                        const DeviceCaps& caps) {
  const std::string why = backward_problem_unsupported_reason(p, t, caps);
  if (!why.empty()) return why;
  if (p.n_extra > 0 && (!a.extra_k || !a.extra_v || !a.d_extra_k || !a.d_extra_v))
    return "additional keys/values and their gradients must all be given";
  const void* ptrs[] = {a.q, a.k, a.v, a.out, a.d_out, a.dq, a.dk, a.dv};
  for (const void* ptr : ptrs)
    if (!ptr || !aligned16(ptr)) return "tensors must be 16-byte aligned";
  if (p.n_extra > 0 && !(aligned16(a.extra_k) && aligned16(a.extra_v))) return "tensors must be 16-byte aligned";
  return "";
}

/// The backward family a call gets by default: 'wgmma' (sm_90a) on compute capability 9.0 at head-dim tier 128
/// (where the mma.sync backward needs 254 registers for one 4-warp CTA per SM) and for 3-D problems at tier 64;
/// mma.sync elsewhere. Measured on an H200 (bench/results/h200_bf16_suite.json, each family's default config):
/// 1-D k2049 D128 4.75 against 10.70 ms, 2-D k31 D128 4.19 against 7.94 ms, 3-D k(5,9,9) D64 1.63 against
/// 1.84 ms, while at 2-D k13 D64 mma.sync stays ahead (3.22 against 3.29 ms). Not measured: 1-D at tier 64
/// (mma.sync kept) and 3-D at tier 128 (wgmma: the mma.sync kernel has the register limit that loses in 1-D/2-D).
static int default_backward_arch(const NaProblem& p, int tier, const DeviceCaps& caps) {
  if (!caps.runs_sm90a()) return 80;
  return tier == 128 || (tier == 64 && p.dims == 3) ? kBwdWgmmaArch : 80;
}

const BackwardEntry& select_backward(const NaProblem& p, DType t, const FusedConfig& c, const DeviceCaps& caps) {
  const BackwardConfigs& family = backward_configs();
  const int tier = family.head_dim_tier(p.head_dim, p.head_dim_v);
  const int arch = c.backward_arch != 0 ? c.backward_arch : default_backward_arch(p, tier, caps);
  std::vector<const BackwardEntry*> all;
  for (const BackwardEntry* e : family.entries(p.dims, tier, t, caps))
    if (e->arch == arch) all.push_back(e);
  const BackwardEntry* dflt = family.cheapest(all, p, caps);
  if (!dflt && c.backward_arch != 0)
    throw Error(ErrorKind::Range, "ERR_NATTEN_UNSUPPORTED",
                std::string("backwardKernel '") + kernel_name(c.backward_arch) + "' has no compiled config for " +
                    std::to_string(p.dims) + "-D, head dim tier " + std::to_string(tier) + ", " + (t == DType::Float16 ? "float16" : "bfloat16") +
                    " on this device (" +
                    (c.backward_arch == kBwdWgmmaArch ? "'wgmma' needs compute capability 9.0 and head-dim tier 64 or 128"
                                                      : "see fusedConfigs") +
                    ")");
  if (!dflt) throw Error(ErrorKind::Natten, "ERR_NATTEN_UNSUPPORTED", "no fused backward config fits this device");
  const int(&q)[kMaxDims] = c.backward_q_tile;
  const int(&kv)[kMaxDims] = c.backward_kv_tile;
  const bool q_given = tile_given(q), kv_given = tile_given(kv);
  if (!q_given && !kv_given) return *dflt;
  auto matches = [&](const BackwardEntry& e) {
    return (!q_given || same_tile(e.q_tile, q, p.dims)) && (!kv_given || same_tile(e.kv_tile, kv, p.dims));
  };
  // A shape given alone keeps the family default's other shape where the family has that pair.
  for (const BackwardEntry* e : all)
    if (matches(*e) && (q_given || same_tile(e->q_tile, dflt->q_tile, p.dims)) &&
        (kv_given || same_tile(e->kv_tile, dflt->kv_tile, p.dims)))
      return *e;
  for (const BackwardEntry* e : all)
    if (matches(*e)) return *e;
  // Tile shapes without backwardKernel may name another family's config (as in the forward): the first
  // compiled config that has them.
  std::vector<const BackwardEntry*> any = family.entries(p.dims, tier, t, caps);
  if (c.backward_arch == 0)
    for (const BackwardEntry* e : any)
      if (matches(*e)) return *e;
  const std::vector<const BackwardEntry*>& listed = c.backward_arch == 0 ? any : all;
  bool q_exists = false;
  for (const BackwardEntry* e : listed) q_exists = q_exists || same_tile(e->q_tile, q, p.dims);
  const bool bad_q = q_given && !q_exists;
  std::string options;
  for (const BackwardEntry* e : listed) {
    const std::string one = shape_text(bad_q ? e->q_tile : e->kv_tile, p.dims);
    if (options.find(one) == std::string::npos) options += (options.empty() ? "" : ", ") + one;
  }
  throw Error(ErrorKind::Range, "ERR_NATTEN_UNSUPPORTED",
              std::string(bad_q ? "backwardQTileShape " : "backwardKvTileShape ") + shape_text(bad_q ? q : kv, p.dims) +
                  " is not a fused backward configuration for " + std::to_string(p.dims) +
                  "-D problems with head dim " + std::to_string(p.head_dim) + "; expected one of " + options);
}

BackwardPlan plan_backward(const NaProblem& p, DType t, const FusedConfig& c, const DeviceCaps& caps) {
  BackwardPlan plan;
  const BackwardEntry& e = select_backward(p, t, c, caps);
  plan.tiles = backward_tiles(e);
  plan.arch = e.arch;
  plan.tier = e.head_dim_tier;
  const int64_t N = p.tokens();
  plan.delta_bytes = round256((size_t)(p.batch * N * p.heads) * sizeof(float));
  const size_t acc = round256((size_t)(p.batch * N * p.heads * p.head_dim) * sizeof(float));
  plan.dq_atomics =
      c.kv_parallel && !c.deterministic && (c.scratch_limit_bytes < 0 || acc <= (size_t)c.scratch_limit_bytes);
  plan.dq_acc_bytes = plan.dq_atomics ? acc : 0;
  plan.dq_stages = caps.smem_fits(dq_smem(plan.tier, 2)) ? 2 : 1;
  if (p.n_extra > 0 && p.batch > 0 && p.heads_kv > 0 && N > 0) {  // an empty problem has no extra pass
    // Enough CTAs for about two waves: split each extra tile's query walk into slices.
    const int bq = backward_main_q_rows(plan);
    const int64_t chunks = (N + bq - 1) / bq;
    const int kv_rows = backward_main_kv_rows(plan);
    const int64_t tiles = (p.n_extra + kv_rows - 1) / kv_rows;
    const int64_t base = p.batch * p.heads_kv * tiles;
    int64_t splits = (2 * (int64_t)caps.sm_count + base - 1) / base;
    splits = splits < 1 ? 1 : (splits > chunks ? chunks : splits);
    plan.q_chunks_per_split = (chunks + splits - 1) / splits;
    plan.extra_splits = (int)((chunks + plan.q_chunks_per_split - 1) / plan.q_chunks_per_split);
    plan.extra_part_bytes = 2 * round256((size_t)(plan.extra_splits * p.batch * p.n_extra * p.heads_kv *
                                                  (p.head_dim > p.head_dim_v ? p.head_dim : p.head_dim_v)) *
                                         sizeof(float));
  }
  return plan;
}

void run_backward(const NaProblem& p, DType t, const FusedBackwardArgs& a, const BackwardPlan& plan, void* workspace,
                  cudaStream_t stream) {
  BackwardParams prm{};
  prm.p = padded(p);
  for (int ax = 0; ax < kMaxDims; ++ax) {
    prm.q_tile[ax] = ax < p.dims ? plan.tiles.q[ax] : 1;
    prm.kv_tile[ax] = ax < p.dims ? plan.tiles.kv[ax] : 1;
  }
  prm.q = a.q;
  prm.k = a.k;
  prm.v = a.v;
  prm.d_out = a.d_out;
  prm.extra_k = a.extra_k;
  prm.extra_v = a.extra_v;
  prm.lse = a.lse;
  prm.dq = a.dq;
  prm.dk = a.dk;
  prm.dv = a.dv;
  prm.dk_extra_out = a.d_extra_k;
  prm.dv_extra_out = a.d_extra_v;
  unsigned char* ws = static_cast<unsigned char*>(workspace);
  prm.delta = reinterpret_cast<float*>(ws);
  ws += plan.delta_bytes;
  prm.dq_acc = plan.dq_atomics ? reinterpret_cast<float*>(ws) : nullptr;
  ws += plan.dq_acc_bytes;
  prm.dk_extra_part = p.n_extra > 0 ? reinterpret_cast<float*>(ws) : nullptr;
  prm.dv_extra_part = p.n_extra > 0 ? reinterpret_cast<float*>(ws + plan.extra_part_bytes / 2) : nullptr;
  prm.extra_splits = plan.extra_splits;
  prm.q_chunks_per_split = (int)plan.q_chunks_per_split;
  prm.dq_stages = plan.dq_stages;
  prm.scale = p.scale;
  prm.scale_log2 = p.scale * kLog2e;
  if (t == DType::Float16) launch_backward_kernels<F16>(prm, plan, a.out, stream);
  else launch_backward_kernels<BF16>(prm, plan, a.out, stream);
}

}  // namespace natten::fused
