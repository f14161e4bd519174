// The entry points of the engine (engine.h, convert.h) as one table per SIMD level: each level's copy of
// the engine fills one (level_table.cc) and engine/cpu/dispatch.cc forwards every call to the table of the
// level chosen at run time.
#pragma once
#include "convert.h"
#include "engine.h"

/// X(name) for every entry point that has one copy per SIMD level. An entry point added to engine.h is
/// added here and forwarded in dispatch.cc.
#define NATTEN_CPU_ENTRY_POINTS(X) \
  X(fna_forward)                   \
  X(fna_backward)                  \
  X(fna_forward_naive)             \
  X(na_qk)                         \
  X(na_av)                         \
  X(na_qk_backward)                \
  X(na_av_backward)                \
  X(softmax)                       \
  X(softmax_backward)              \
  X(merge_attentions)              \
  X(fused_to_unfused)              \
  X(unfused_to_fused)              \
  X(scale)                         \
  X(fill)                          \
  X(gemm)                          \
  X(add)                           \
  X(gelu)                          \
  X(layer_norm)                    \
  X(strided_copy)                  \
  X(sum_rows)                      \
  X(gelu_backward)                 \
  X(layer_norm_backward)           \
  X(mse_loss)                      \
  X(mse_loss_backward)             \
  X(optim_step)                    \
  X(unscale_grads)                 \
  X(fma_peak_gflops)               \
  X(convert)                       \
  X(convert_parallel)

namespace natten::cpu {

/// One level's entry points, each with the type of its engine.h / convert.h declaration.
struct KernelTable {
#define NATTEN_CPU_TABLE_MEMBER(name) decltype(&::natten::cpu::name) name;
  NATTEN_CPU_ENTRY_POINTS(NATTEN_CPU_TABLE_MEMBER)
#undef NATTEN_CPU_TABLE_MEMBER
};

/// The SIMD level whose copy of the engine runs: the best level compiled in that the CPU supports, capped
/// by NATTEN_CPU_LEVEL (avx512 | avx2 | baseline; read once). 'avx512', 'avx2' or 'baseline'.
const char* simd_level();
/// The levels compiled into the addon, best first, comma-separated (e.g. "avx512,avx2,baseline").
const char* simd_levels_compiled();

}  // namespace natten::cpu
