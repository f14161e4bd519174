// Run-time choice of the engine's SIMD level: every entry point of engine.h / convert.h forwards to the
// table (kernel_table.h) of the best level compiled in that this CPU runs, capped by NATTEN_CPU_LEVEL.
// Compiled once, for the baseline of the target: it must run on every CPU the addon may be loaded on.
#include <stdlib.h>
#include <string.h>

#include <string>

#include "kernel_table.h"

namespace natten::cpu {
#if NATTEN_CPU_HAVE_AVX512
namespace avx512 {
extern const KernelTable kTable;
}
#endif
#if NATTEN_CPU_HAVE_AVX2
namespace avx2 {
extern const KernelTable kTable;
}
#endif
namespace baseline {
extern const KernelTable kTable;
}

namespace {

struct Level {
  const char* name;
  const KernelTable* table;
  bool (*runs)();
};

#if NATTEN_CPU_HAVE_AVX512
// x86-64-v4 (what -march=x86-64-v4 may emit); __builtin_cpu_supports also checks that the OS saves the
// AVX-512 registers.
bool runs_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}
#endif
#if NATTEN_CPU_HAVE_AVX2
// x86-64-v3.
bool runs_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
         __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("movbe");
}
#endif
bool runs_always() { return true; }

/// Compiled levels, best first; baseline is always there.
constexpr Level kLevels[] = {
#if NATTEN_CPU_HAVE_AVX512
    {"avx512", &avx512::kTable, runs_avx512},
#endif
#if NATTEN_CPU_HAVE_AVX2
    {"avx2", &avx2::kTable, runs_avx2},
#endif
    {"baseline", &baseline::kTable, runs_always},
};
constexpr const char* kAllLevels[] = {"avx512", "avx2", "baseline"};

/// Rank of a level name among all levels (0 = best); 0 (no cap) for an unset or unknown NATTEN_CPU_LEVEL
/// (lib/ rejects an unknown one at load time with a coded error).
int rank(const char* name) {
  if (!name) return 0;
  for (int i = 0; i < 3; ++i)
    if (strcmp(name, kAllLevels[i]) == 0) return i;
  return 0;
}

const Level& choose() {
  const int cap = rank(getenv("NATTEN_CPU_LEVEL"));
  for (const Level& l : kLevels)
    if (rank(l.name) >= cap && l.runs()) return l;
  return kLevels[sizeof kLevels / sizeof kLevels[0] - 1];
}

/// The chosen level, on first use (thread-safe static initialisation).
const Level& active() {
  static const Level& level = choose();
  return level;
}

}  // namespace

const char* simd_level() { return active().name; }

const char* simd_levels_compiled() {
  static const std::string names = [] {
    std::string s;
    for (const Level& l : kLevels) s += (s.empty() ? "" : ",") + std::string(l.name);
    return s;
  }();
  return names.c_str();
}

void fna_forward(const NaProblem& p, DType t, const FusedForwardArgs& a) { active().table->fna_forward(p, t, a); }
void fna_backward(const NaProblem& p, DType t, const FusedBackwardArgs& a) { active().table->fna_backward(p, t, a); }
void fna_forward_naive(const NaProblem& p, DType t, const FusedForwardArgs& a) {
  active().table->fna_forward_naive(p, t, a);
}
void na_qk(const NaProblem& p, DType t, const QKArgs& a) { active().table->na_qk(p, t, a); }
void na_av(const NaProblem& p, DType t, const AVArgs& a) { active().table->na_av(p, t, a); }
void na_qk_backward(const NaProblem& p, DType t, const QKBackwardArgs& a) { active().table->na_qk_backward(p, t, a); }
void na_av_backward(const NaProblem& p, DType t, const AVBackwardArgs& a) { active().table->na_av_backward(p, t, a); }
void softmax(DType t, const SoftmaxArgs& a) { active().table->softmax(t, a); }
void softmax_backward(DType t, const SoftmaxBackwardArgs& a) { active().table->softmax_backward(t, a); }
void merge_attentions(DType t, int n, const void* const* outs, const float* const* lses, int64_t rows, int64_t dv,
                      void* out, float* lse) {
  active().table->merge_attentions(t, n, outs, lses, rows, dv, out, lse);
}
void fused_to_unfused(DType t, int64_t B, int64_t N, int64_t H, int64_t Hsrc, int64_t C, const void* src, void* dst) {
  active().table->fused_to_unfused(t, B, N, H, Hsrc, C, src, dst);
}
void unfused_to_fused(DType t, int64_t B, int64_t N, int64_t Hsrc, int64_t H, int64_t C, const void* src, void* dst) {
  active().table->unfused_to_fused(t, B, N, Hsrc, H, C, src, dst);
}
void scale(DType t, int64_t n, const void* src, void* dst, double factor) {
  active().table->scale(t, n, src, dst, factor);
}
void fill(DType t, int64_t n, void* dst, double value) { active().table->fill(t, n, dst, value); }
void gemm(DType t, const GemmArgs& a) { active().table->gemm(t, a); }
void add(DType t, const AddArgs& a) { active().table->add(t, a); }
void gelu(DType t, const GeluArgs& a) { active().table->gelu(t, a); }
void layer_norm(DType t, const LayerNormArgs& a) { active().table->layer_norm(t, a); }
void strided_copy(DType t, const StridedCopyArgs& a) { active().table->strided_copy(t, a); }
void sum_rows(DType t, const SumRowsArgs& a) { active().table->sum_rows(t, a); }
void gelu_backward(DType t, const GeluBackwardArgs& a) { active().table->gelu_backward(t, a); }
void layer_norm_backward(DType t, const LayerNormBackwardArgs& a) { active().table->layer_norm_backward(t, a); }
void mse_loss(DType t, const MseLossArgs& a) { active().table->mse_loss(t, a); }
void mse_loss_backward(DType t, const MseLossBackwardArgs& a) { active().table->mse_loss_backward(t, a); }

void optim_step(DType t, const OptimStepArgs& a) { active().table->optim_step(t, a); }
void unscale_grads(DType t, const UnscaleArgs& a) { active().table->unscale_grads(t, a); }
double fma_peak_gflops(int ms) { return active().table->fma_peak_gflops(ms); }
void convert(const void* src, DType st, void* dst, DType dt, size_t begin, size_t end) {
  active().table->convert(src, st, dst, dt, begin, end);
}
void convert_parallel(const void* src, DType st, void* dst, DType dt, size_t n) {
  active().table->convert_parallel(src, st, dst, dt, n);
}

}  // namespace natten::cpu
