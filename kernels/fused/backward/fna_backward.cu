// Planning and launch of the fused NA backward (see fna_backward.h): checks what the fast path runs,
// picks tiles and the dQ strategy, lays out the workspace and fills the kernel parameters.
#include "fna_backward.h"

#include <cuda_runtime.h>

#include "fna_backward_kernels.h"

namespace natten::fused {

// Instantiated in fna_backward_f16.cu / fna_backward_bf16.cu, not here.
extern template void launch_backward_kernels<F16>(const BackwardParams&, const BackwardPlan&, const void*,
                                                  cudaStream_t);
extern template void launch_backward_kernels<BF16>(const BackwardParams&, const BackwardPlan&, const void*,
                                                   cudaStream_t);

namespace {

bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15u) == 0; }

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

}  // namespace

std::vector<BackwardConfigInfo> backward_config_list(int dims, int64_t head_dim, int64_t head_dim_v, DType t,
                                                     const BackwardDevice& dev) {
  std::vector<BackwardConfigInfo> out;
  const int tier = backward_head_dim_tier(head_dim, head_dim_v);
  if (dev.cc_major < 8 || tier == 0 || (t != DType::Float16 && t != DType::BFloat16)) return out;
  if (kv_smem(tier) > dev.smem_optin || dq_smem(tier, 1) > dev.smem_optin) return out;
  for (const BackwardTileConfig& c : backward_tile_configs(dims, tier)) {
    BackwardConfigInfo i;
    i.tiles = c;
    i.head_dim_tier = tier;
    i.threads = kBwdThreads;
    i.smem_bytes = (int)kv_smem(tier);
    out.push_back(i);
  }
  return out;
}

std::string backward_problem_unsupported_reason(const NaProblem& p, DType t, const BackwardDevice& dev) {
  if (dev.cc_major < 8) return "the fused backward needs compute capability 8.0 or newer";
  if (t != DType::Float16 && t != DType::BFloat16) return "the fused backward runs float16 and bfloat16 only";
  if (p.dims < 1 || p.dims > kMaxDims) return "dims must be 1, 2 or 3";
  const int tier = backward_head_dim_tier(p.head_dim, p.head_dim_v);
  if (tier == 0) return "the fused backward needs head dims that are multiples of 8 and at most 128";
  if (p.heads_kv <= 0 || p.heads % p.heads_kv != 0) return "heads_kv must divide heads";
  if (p.batch > 65535 || p.heads > 65535) return "batch and heads must be at most 65535";
  if (kv_smem(tier) > dev.smem_optin || dq_smem(tier, 1) > dev.smem_optin)
    return "not enough shared memory per block on this GPU";
  // Grid slots per axis are below twice the axis length, so fewer than 8N in all: keep that in grid.x.
  if (p.tokens() > (int64_t)1 << 28) return "more than 2^28 tokens per batch and head";
  return "";
}

std::string backward_unsupported_reason(const NaProblem& p, DType t, const FusedBackwardArgs& a,
                                        const BackwardDevice& dev) {
  const std::string why = backward_problem_unsupported_reason(p, t, dev);
  if (!why.empty()) return why;
  if (p.n_extra > 0 && (!a.extra_k || !a.extra_v || !a.d_extra_k || !a.d_extra_v))
    return "additional keys/values and their gradients must all be given";
  const void* ptrs[] = {a.q, a.k, a.v, a.out, a.d_out, a.dq, a.dk, a.dv};
  for (const void* ptr : ptrs)
    if (!ptr || !aligned16(ptr)) return "tensors must be 16-byte aligned";
  if (p.n_extra > 0 && !(aligned16(a.extra_k) && aligned16(a.extra_v))) return "tensors must be 16-byte aligned";
  return "";
}

BackwardPlan plan_backward(const NaProblem& p, DType t, const FusedConfig& c, const BackwardDevice& dev) {
  BackwardPlan plan;
  plan.tier = backward_head_dim_tier(p.head_dim, p.head_dim_v);
  plan.tiles = resolve_backward_tiles(p, plan.tier, c.backward_q_tile, c.backward_kv_tile);
  const int64_t N = p.tokens();
  plan.delta_bytes = round256((size_t)(p.batch * N * p.heads) * sizeof(float));
  const size_t acc = round256((size_t)(p.batch * N * p.heads * p.head_dim) * sizeof(float));
  plan.dq_atomics =
      c.kv_parallel && !c.deterministic && (c.scratch_limit_bytes < 0 || acc <= (size_t)c.scratch_limit_bytes);
  plan.dq_acc_bytes = plan.dq_atomics ? acc : 0;
  plan.dq_stages = dq_smem(plan.tier, 2) <= dev.smem_optin ? 2 : 1;
  if (p.n_extra > 0 && p.batch > 0 && p.heads_kv > 0 && N > 0) {  // an empty problem has no extra pass
    // Enough CTAs for about two waves: split each extra tile's query walk into slices.
    const int bq = backward_q_rows(plan.tier);
    const int64_t chunks = (N + bq - 1) / bq;
    const int64_t tiles = (p.n_extra + kBwdKvRows - 1) / kBwdKvRows;
    const int64_t base = p.batch * p.heads_kv * tiles;
    int64_t splits = (2 * (int64_t)dev.sm_count + base - 1) / base;
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
